import type { LwM2mPath } from '../path.js';
import type { ObjectDefinition, ResourceDefinition } from './definition.js';
import { OBJECT_DEFINITIONS } from './definitions.generated.js';
import { EDGEDM_OBJECT_DEFINITIONS } from './edgedm-objects.js';

export class DuplicateObjectDefinitionError extends Error {
  constructor(readonly objectId: number) {
    super(`object ${objectId} is defined more than once`);
    this.name = 'DuplicateObjectDefinitionError';
  }
}

interface Entry {
  definition: ObjectDefinition;
  resources: ReadonlyMap<number, ResourceDefinition>;
}

/**
 * Looks up object and resource definitions by id. Lookups answer `undefined` for anything the
 * registry does not define, so callers can turn that into the result code their context needs
 * (4.04 on a device, a validation error in the API).
 */
export class ObjectRegistry {
  private readonly entries = new Map<number, Entry>();

  constructor(definitions: Iterable<ObjectDefinition>) {
    for (const definition of definitions) {
      if (this.entries.has(definition.id)) throw new DuplicateObjectDefinitionError(definition.id);
      this.entries.set(definition.id, { definition, resources: new Map(definition.resources.map((r) => [r.id, r])) });
    }
  }

  get(objectId: number): ObjectDefinition | undefined {
    return this.entries.get(objectId)?.definition;
  }

  resource(objectId: number, resourceId: number): ResourceDefinition | undefined {
    return this.entries.get(objectId)?.resources.get(resourceId);
  }

  /**
   * The definition of the resource a path addresses: `/3/0/0`, or `/3/0/6/1` for an instance of
   * a multiple resource. Undefined for paths above resource level and for a resource-instance
   * path into a single resource, which has no instances.
   */
  resourceAt(path: LwM2mPath): ResourceDefinition | undefined {
    if (!path.isResource() && !path.isResourceInstance()) return undefined;
    const resource = this.resource(path.objectId!, path.resourceId!);
    if (resource && path.isResourceInstance() && !resource.multiple) return undefined;
    return resource;
  }

  /** Every definition, by ascending object id. */
  all(): readonly ObjectDefinition[] {
    return [...this.entries.values()].map((e) => e.definition).sort((a, b) => a.id - b.id);
  }
}

/** The registry of the current OMA definitions edgedm ships, and edgedm's own objects. */
export const defaultObjectRegistry = new ObjectRegistry([...OBJECT_DEFINITIONS, ...EDGEDM_OBJECT_DEFINITIONS]);
