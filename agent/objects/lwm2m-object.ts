import type { ObjectDefinition } from '../../protocol/model/objects/index.js';
import type { ObjectInstance } from './instance.js';

/** Who is performing an operation: the DM server, or a bootstrap server (which may write Security). */
export type CallerRole = 'server' | 'bootstrap';

export interface LwM2mObjectOptions {
  /** Makes a new, empty instance; without it the object's instances are fixed. */
  createInstance?: (id: number) => ObjectInstance;
  /** Whether the DM server may create and delete instances (the bootstrap server always may, if createInstance is set). */
  serverMayCreate?: boolean;
  /** Called once after an operation changed the object's instances or values (persistence). */
  commit?: () => void;
  /** Hidden from the DM server entirely (Security, LwM2M 1.1 §E.1). */
  hiddenFromServer?: boolean;
}

/** An object of the tree: its definition and its instances. */
export class LwM2mObject {
  readonly instances = new Map<number, ObjectInstance>();

  constructor(
    readonly definition: ObjectDefinition,
    readonly options: LwM2mObjectOptions = {},
  ) {}

  get id(): number {
    return this.definition.id;
  }

  add(instance: ObjectInstance): ObjectInstance {
    if (instance.definition.id !== this.definition.id) throw new Error(`instance of object ${instance.definition.id} added to object ${this.id}`);
    if (!this.definition.multiple && this.instances.size > 0 && !this.instances.has(instance.id)) {
      throw new Error(`object ${this.id} is single-instance`);
    }
    this.instances.set(instance.id, instance);
    return instance;
  }

  canCreate(role: CallerRole): boolean {
    return this.options.createInstance !== undefined && (role === 'bootstrap' || this.options.serverMayCreate === true);
  }

  create(id: number): ObjectInstance {
    const factory = this.options.createInstance;
    if (!factory) throw new Error(`object ${this.id} has no instance factory`);
    return this.add(factory(id));
  }

  /** The lowest free instance id. */
  nextInstanceId(): number {
    let id = 0;
    while (this.instances.has(id)) id++;
    return id;
  }

  commit(): void {
    this.options.commit?.();
  }

  sortedInstances(): ObjectInstance[] {
    return [...this.instances.values()].sort((a, b) => a.id - b.id);
  }
}
