import { fromJsonValue, LwM2mPath, recordToJson, type JsonRecord, type LwM2mRecord, type LwM2mValue } from '../../protocol/model/index.js';
import { isExecutable, type ObjectDefinition } from '../../protocol/model/objects/index.js';
import { ObjectInstance, type ResourceContent } from './instance.js';

/**
 * An instance whose resources are plain stored values (Security and Server accounts): every
 * non-executable resource of the definition can hold a value. It serialises to JSON records
 * for the state store.
 */
export class StoredInstance extends ObjectInstance {
  private readonly values = new Map<number, ResourceContent>();

  constructor(
    definition: ObjectDefinition,
    id: number,
    private readonly validators: Readonly<Record<number, (value: ResourceContent) => void>> = {},
  ) {
    super(definition, id);
    for (const def of definition.resources) {
      if (isExecutable(def)) continue;
      this.resource(def.id, {
        read: () => this.values.get(def.id),
        write: (value) => {
          this.validators[def.id]?.(value);
          this.values.set(def.id, value);
        },
      });
    }
  }

  /** Sets a value without the validators or change events: restoring and provisioning. */
  set(resourceId: number, value: ResourceContent): void {
    this.values.set(resourceId, value);
  }

  get<T extends LwM2mValue>(resourceId: number): T | undefined {
    const v = this.values.get(resourceId);
    return v instanceof Map ? undefined : (v as T | undefined);
  }

  /** Also adds executables the subclass defines. */
  protected executable(resourceId: number, run: (args: string | undefined) => void | Promise<void>): void {
    this.resource(resourceId, { execute: run });
  }

  toJson(): JsonRecord[] {
    const out: JsonRecord[] = [];
    for (const [id, value] of [...this.values.entries()].sort(([a], [b]) => a - b)) {
      const def = this.resourceDefinition(id)!;
      const base = this.path.child(id);
      const records: LwM2mRecord[] =
        value instanceof Map
          ? [...value.entries()].map(([i, v]) => ({ path: base.child(i), type: def.type, value: v }))
          : [{ path: base, type: def.type, value: value as LwM2mValue }];
      out.push(...records.map(recordToJson));
    }
    return out;
  }

  restore(records: readonly JsonRecord[]): void {
    for (const r of records) {
      const path = LwM2mPath.parse(r.path);
      const def = this.resourceDefinition(path.resourceId!);
      if (!def || isExecutable(def)) continue;
      const value = fromJsonValue(def.type, r.value);
      if (path.isResourceInstance()) {
        const current = this.values.get(def.id);
        this.values.set(def.id, new Map([...(current instanceof Map ? current : []), [path.resourceInstanceId!, value]]));
      } else {
        this.values.set(def.id, value);
      }
    }
  }
}
