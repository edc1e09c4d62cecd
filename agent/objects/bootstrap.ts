import { LwM2mPath, ResultCode, type LwM2mRecord, type OperationResult } from '../../protocol/model/index.js';
import type { AgentObjects } from './index.js';

/**
 * Bootstrap-Delete of `/` (LwM2M 1.1 §5.2.7.5): every Security and Server instance goes,
 * except the bootstrap account; the Device object stays.
 */
export async function bootstrapDeleteAll(objects: AgentObjects): Promise<void> {
  const result = await objects.tree.handle({ kind: 'delete', path: LwM2mPath.ROOT }, 'bootstrap');
  if (result.code !== ResultCode.DELETED) throw new Error(`bootstrap delete failed: ${result.code} ${result.message ?? ''}`);
}

/** Bootstrap-Write of each object's records, creating instances as needed; stops at the first failure. */
export async function applyBootstrapWrite(objects: AgentObjects, content: readonly LwM2mRecord[]): Promise<OperationResult> {
  const byObject = new Map<number, LwM2mRecord[]>();
  for (const record of content) {
    const id = record.path.objectId!;
    byObject.set(id, [...(byObject.get(id) ?? []), record]);
  }
  if (byObject.size === 0) return { code: ResultCode.BAD_REQUEST, message: 'bootstrap write without content' };
  for (const [objectId, records] of byObject) {
    const result = await objects.tree.handle({ kind: 'write', path: LwM2mPath.of(objectId), mode: 'replace', content: records }, 'bootstrap');
    if (result.code !== ResultCode.CHANGED) return result;
  }
  return { code: ResultCode.CHANGED };
}
