import { recordToJson, type OperationResult } from '../../protocol/model/index.js';
import type { CommandStep } from './command-spec.js';
import type { StepOutcome } from './command-repository.js';

/** Event Log (Object 20) LogData: the log itself, as bytes. */
const LOG_DATA_RESOURCE = 4014;

/** What is kept of one step's answer: the code, a message, the values (Event Log: the recent lines only). */
export function outcomeOf(step: CommandStep, result: OperationResult): StepOutcome {
  const outcome: StepOutcome = { kind: step.kind, path: step.path, code: result.code };
  if (result.message) outcome.message = result.message;
  let records = result.content ?? [];
  if (step.recentLogLines !== undefined) {
    const logData = records.filter((r) => r.path.objectId === 20 && r.path.resourceId === LOG_DATA_RESOURCE && r.value instanceof Uint8Array);
    if (logData.length > 0) {
      const lines = logData.flatMap((r) => Buffer.from(r.value as Uint8Array).toString('utf8').split('\n').filter((l) => l.length > 0));
      outcome.recentEvents = lines.slice(-step.recentLogLines);
      records = records.filter((r) => !logData.includes(r));
    }
  }
  if (records.length > 0) outcome.content = records.map(recordToJson);
  return outcome;
}
