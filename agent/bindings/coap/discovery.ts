import { LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import { LwM2mPath, type Link } from '../../../protocol/model/index.js';
import { defaultObjectRegistry, isExecutable, isReadable, type ResourceDefinition } from '../../../protocol/model/objects/index.js';
import type { AgentObjects } from '../../objects/index.js';

/** The formats an instance (or a multiple resource) is read in over plain CoAP: SenML CBOR, SenML JSON (RFC 8428). */
export const INSTANCE_FORMATS = `${LwM2mContentFormat.SENML_CBOR} ${LwM2mContentFormat.SENML_JSON}`;

/**
 * The agent's resources as CoRE links (RFC 6690), for `/.well-known/core` and the Resource
 * Directory: each object instance with its object's URN as `rt`, and, for discovery, each of its
 * resources. `ct` names the formats a GET answers in (RFC 7252 §7.2.1), `obs` marks what can be
 * observed (RFC 7641 §6). Executable resources carry neither: they take POST only. The Security
 * object and the trust anchor stay out, as the tree hides them from any server.
 */
export async function discoveryLinks(objects: AgentObjects): Promise<Link[]> {
  const out: Link[] = [];
  for (const objectLink of objects.tree.objectLinks()) {
    const path = LwM2mPath.parse(objectLink.target);
    if (!path.isObject()) continue;
    // Discover on each object: its instances and the resources each instance has.
    const result = await objects.tree.handle({ kind: 'discover', path }, 'server');
    for (const link of result.links ?? []) out.push(annotate(link));
  }
  return out;
}

/** What a registration announces: object instances (and instance-less objects), not every resource. */
export function registrationLinks(objects: AgentObjects): Link[] {
  return objects.tree.objectLinks().map(annotate);
}

function annotate(link: Link): Link {
  const path = LwM2mPath.parse(link.target);
  const definition = defaultObjectRegistry.get(path.objectId!);
  if (!definition) return link;
  if (path.isObject()) return { target: link.target, attributes: { ...link.attributes, rt: definition.urn } };
  if (path.isObjectInstance()) return { target: link.target, attributes: { ...link.attributes, rt: definition.urn, ct: INSTANCE_FORMATS, obs: undefined } };
  const resource = definition.resources.find((r) => r.id === path.resourceId);
  return resource ? { target: link.target, attributes: { ...link.attributes, ...resourceAttributes(resource) } } : link;
}

function resourceAttributes(r: ResourceDefinition): Record<string, string | undefined> {
  if (isExecutable(r)) return {};
  const ct = r.multiple ? INSTANCE_FORMATS : String(r.type === 'opaque' ? LwM2mContentFormat.OPAQUE : LwM2mContentFormat.TEXT);
  return isReadable(r) ? { ct, obs: undefined } : { ct };
}
