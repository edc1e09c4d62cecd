import {
  defaultObjectRegistry,
  type ObjectDefinition,
  type ResourceDefinition,
} from '../../protocol/model/objects/index.js';
import { LwM2mPath, type BlockInfo, type LwM2mValue, type OperationResult, type ResultCode } from '../../protocol/model/index.js';

/** A single resource's value, or a multiple resource's instances by id. */
export type ResourceContent = LwM2mValue | ReadonlyMap<number, LwM2mValue>;

/** Thrown by resource code to answer an operation with a specific result code. */
export class OperationError extends Error {
  constructor(
    readonly code: ResultCode,
    message: string,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

/** How one resource is served. A missing `read` on a readable resource means "not present now". */
export interface ResourceImpl {
  read?(): ResourceContent | undefined;
  write?(value: ResourceContent): void;
  execute?(args: string | undefined): void | Promise<void>;
  /**
   * An opaque resource written in blocks (a pushed firmware Package): takes one block and
   * answers 2.31 Continue with the next offset it expects, or the final result.
   */
  writeBlock?(chunk: Uint8Array, block: BlockInfo): Promise<OperationResult>;
}

/**
 * One instance of an object: a set of resource implementations checked against the registry
 * definition, so an instance cannot serve a resource the object does not define.
 */
export class ObjectInstance {
  private readonly impls = new Map<number, ResourceImpl>();
  /** Set by the object tree: called when a value changes without a server write. */
  onChange: ((path: LwM2mPath) => void) | undefined;

  constructor(
    readonly definition: ObjectDefinition,
    readonly id: number,
  ) {}

  get path(): LwM2mPath {
    return LwM2mPath.of(this.definition.id, this.id);
  }

  resourceDefinition(resourceId: number): ResourceDefinition | undefined {
    return defaultObjectRegistry.resource(this.definition.id, resourceId);
  }

  /** Resource ids this instance implements, ascending. */
  resourceIds(): number[] {
    return [...this.impls.keys()].sort((a, b) => a - b);
  }

  impl(resourceId: number): ResourceImpl | undefined {
    return this.impls.get(resourceId);
  }

  /** The current value of a resource, or undefined when absent. */
  read(resourceId: number): ResourceContent | undefined {
    return this.impls.get(resourceId)?.read?.();
  }

  protected resource(resourceId: number, impl: ResourceImpl): void {
    if (!this.resourceDefinition(resourceId)) {
      throw new Error(`object ${this.definition.id} defines no resource ${resourceId}`);
    }
    this.impls.set(resourceId, impl);
  }

  /** A value held in memory, readable and writable as the definition allows. */
  protected value<T extends ResourceContent>(resourceId: number, initial: T | undefined, onWrite?: (value: T) => void): { get(): T | undefined; set(v: T): void } {
    let current = initial;
    const cell = {
      get: () => current,
      set: (v: T) => {
        current = v;
        this.changed(resourceId);
      },
    };
    this.resource(resourceId, {
      read: () => current,
      write: (v) => {
        onWrite?.(v as T);
        current = v as T;
      },
    });
    return cell;
  }

  protected changed(resourceId: number): void {
    this.onChange?.(this.path.child(resourceId));
  }
}
