import { OBJECT_DEFINITIONS } from '../../protocol/model/objects/definitions.generated.js';
import { EDGEDM_OBJECT_DEFINITIONS } from '../../protocol/model/objects/edgedm-objects.js';
import type { ObjectDefinition, ResourceDefinition } from '../../protocol/model/objects/definition.js';

/**
 * The OMA object definitions the gateway itself uses (protocol/model/objects), for names,
 * operations, types and units in the object tree, as Leshan's demo shows its model. The build
 * drops their long descriptions (portal/vite.config.mjs).
 */
const byId = new Map<number, ObjectDefinition>([...OBJECT_DEFINITIONS, ...EDGEDM_OBJECT_DEFINITIONS].map((d) => [d.id, d]));

export type { ObjectDefinition, ResourceDefinition };

export function objectDefinition(id: number): ObjectDefinition | undefined {
  return byId.get(id);
}

export function resourceDefinition(objectId: number, resourceId: number): ResourceDefinition | undefined {
  return byId.get(objectId)?.resources.find((r) => r.id === resourceId);
}

/** `/3/0/9` → its name, e.g. "Battery Level", or the path when unknown. */
export function resourceName(path: string): string {
  const [o, , r] = path.split('/').filter(Boolean).map(Number);
  if (o === undefined || r === undefined) return path;
  return resourceDefinition(o, r)?.name ?? path;
}

export function resourceUnit(path: string): string | undefined {
  const [o, , r] = path.split('/').filter(Boolean).map(Number);
  if (o === undefined || r === undefined) return undefined;
  const units = resourceDefinition(o, r)?.units;
  // The registry writes percentages as "/100" (Battery Level).
  return units === '/100' ? '%' : units;
}
