import type { Logger } from '../../common/logger.js';
import type { JsonRecord } from '../../protocol/model/index.js';
import type { ObjectDefinition } from '../../protocol/model/objects/index.js';
import type { StateStore } from '../state/state-store.js';
import { LwM2mObject, type LwM2mObjectOptions } from './lwm2m-object.js';
import type { StoredInstance } from './stored-instance.js';

/**
 * An object of StoredInstances kept in the state store: restored at boot, saved after each
 * operation that touched it (one atomic file write per operation, not per resource).
 */
export class PersistedObject<I extends StoredInstance> extends LwM2mObject {
  constructor(
    definition: ObjectDefinition,
    private readonly state: StateStore,
    makeInstance: (id: number) => I,
    log: Logger,
    options: Omit<LwM2mObjectOptions, 'createInstance' | 'commit'> & { transient?: (instance: I) => boolean } = {},
  ) {
    super(definition, {
      ...options,
      createInstance: makeInstance,
      commit: () => this.save(),
    });
    this.transient = options.transient ?? (() => false);
    const saved = state.read<Record<string, JsonRecord[]>>(this.key) ?? {};
    for (const [id, records] of Object.entries(saved)) {
      try {
        const instance = makeInstance(Number(id));
        instance.restore(records);
        this.add(instance);
      } catch (err) {
        log.error({ err, object: definition.id, instance: id }, 'dropped an unreadable saved instance');
      }
    }
  }

  private readonly transient: (instance: I) => boolean;

  private get key(): string {
    return `object.${this.definition.id}`;
  }

  instancesOf(): I[] {
    return this.sortedInstances() as I[];
  }

  save(): void {
    const out: Record<string, JsonRecord[]> = {};
    for (const instance of this.instancesOf()) if (!this.transient(instance)) out[instance.id] = instance.toJson();
    this.state.write(this.key, out);
  }
}
