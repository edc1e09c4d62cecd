import type { ResourceType } from '../value.js';

/** Operations a resource allows, as the OMA registry spells them; `''` means none. */
export type ResourceOperations = '' | 'R' | 'W' | 'RW' | 'E';

export const RESOURCE_OPERATIONS: readonly ResourceOperations[] = ['', 'R', 'W', 'RW', 'E'];

/** One resource of an object, as defined by the OMA LwM2M registry. */
export interface ResourceDefinition {
  id: number;
  name: string;
  operations: ResourceOperations;
  multiple: boolean;
  mandatory: boolean;
  /** `none` for executables and for resources whose registry entry leaves the type empty. */
  type: ResourceType;
  rangeEnumeration?: string;
  units?: string;
  description: string;
}

/** One object of the OMA LwM2M registry. */
export interface ObjectDefinition {
  id: number;
  name: string;
  urn: string;
  objectVersion: string;
  lwm2mVersion: string;
  multiple: boolean;
  mandatory: boolean;
  description: string;
  resources: readonly ResourceDefinition[];
}

export function isReadable(r: ResourceDefinition): boolean {
  return r.operations === 'R' || r.operations === 'RW';
}

export function isWritable(r: ResourceDefinition): boolean {
  return r.operations === 'W' || r.operations === 'RW';
}

export function isExecutable(r: ResourceDefinition): boolean {
  return r.operations === 'E';
}
