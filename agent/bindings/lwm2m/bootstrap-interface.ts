import { formatLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import { isSuccess, LwM2mPath, ResultCode, type Link, type Operation } from '../../../protocol/model/index.js';
import { ObjectId, SecurityResource, ServerResource } from '../../../protocol/model/objects/index.js';
import type { AgentObjects } from '../../objects/index.js';
import { errorReply, type Reply, type RequestView } from './coap-reply.js';
import { decodeBody, pathOf, resultReply } from './dm-mapping.js';

/**
 * The client side of the Bootstrap interface (OMA LwM2M 1.1 Core §5.2.7, Transport §6.1):
 * what a bootstrap server may ask between our Bootstrap-Request and its Bootstrap-Finish, each
 * performed on the object tree with the 'bootstrap' role (which may write Security and delete
 * every account but its own).
 *
 * | request                          | operation                                                   |
 * |----------------------------------|-------------------------------------------------------------|
 * | GET / or /O, Accept 40           | Bootstrap-Discover: `</>;lwm2m=1.1,</0/0>;uri="…",</1/0>;ssid=1,…` |
 * | GET /1 or /1/x                   | Bootstrap-Read (1.1): Server object only, else 4.05         |
 * | PUT /O, /O/I, /O/I/R + payload   | Bootstrap-Write (replace), instances created as needed      |
 * | DELETE /, /O, /O/I               | Bootstrap-Delete (the bootstrap account stays)              |
 * | POST /bs                         | Bootstrap-Finish: 2.04, or 4.06 without a usable DM account |
 */
export async function bootstrapReply(req: RequestView, objects: AgentObjects, finish: () => Reply, lwm2mVersion: string): Promise<Reply> {
  if (req.method === 'POST' && req.path.length === 1 && req.path[0] === 'bs') return finish();
  const path = pathOf(req.path);
  if (!path) return errorReply(ResultCode.NOT_FOUND, `/${req.path.join('/')} is not an LwM2M path`);
  const { tree } = objects;
  switch (req.method) {
    case 'GET': {
      if (req.accept === LwM2mContentFormat.LINK) return bootstrapDiscover(objects, path, lwm2mVersion);
      if (path.objectId !== ObjectId.SERVER || !(path.isObject() || path.isObjectInstance())) {
        return errorReply(ResultCode.METHOD_NOT_ALLOWED, 'Bootstrap-Read takes the Server object or one of its instances');
      }
      const op: Operation = { kind: 'read', path };
      return resultReply(op, await tree.handle(op, 'bootstrap'), req.accept);
    }
    case 'PUT': {
      if (path.isRoot()) return errorReply(ResultCode.BAD_REQUEST, 'Bootstrap-Write needs an object, instance or resource path');
      if (req.payload.length === 0) return errorReply(ResultCode.BAD_REQUEST, 'Bootstrap-Write without content');
      const content = decodeBody(req, path);
      if ('reply' in content) return content.reply;
      const op: Operation = { kind: 'write', path, mode: 'replace', content: content.records };
      return resultReply(op, await tree.handle(op, 'bootstrap'), undefined);
    }
    case 'DELETE': {
      if (path.isResource() || path.isResourceInstance()) return errorReply(ResultCode.BAD_REQUEST, 'Bootstrap-Delete takes /, an object or an instance');
      const op: Operation = { kind: 'delete', path };
      return resultReply(op, await tree.handle(op, 'bootstrap'), undefined);
    }
    default:
      return errorReply(ResultCode.METHOD_NOT_ALLOWED, `${req.method} is not a bootstrap operation`);
  }
}

/**
 * Bootstrap-Discover (1.1 §5.2.7.1): the LwM2M version, then the instances (and the objects
 * without instances), Security instances with their `uri` and, but for the bootstrap account,
 * `ssid`; Server instances with `ssid`.
 */
async function bootstrapDiscover(objects: AgentObjects, path: LwM2mPath, lwm2mVersion: string): Promise<Reply> {
  if (!path.isRoot() && !path.isObject()) return errorReply(ResultCode.BAD_REQUEST, 'Bootstrap-Discover takes / or an object');
  const result = await objects.tree.handle({ kind: 'discover', path }, 'bootstrap');
  if (!isSuccess(result.code)) return errorReply(result.code, result.message);
  const parts = [formatLinks([{ target: '/', attributes: { lwm2m: lwm2mVersion } }])];
  for (const link of result.links ?? []) {
    const p = LwM2mPath.parse(link.target);
    if (p.isObject()) {
      const ver = link.attributes.ver;
      const empty = (objects.tree.object(p.objectId!)?.instances.size ?? 0) === 0;
      if (ver || empty) parts.push(formatLinks([{ target: link.target, attributes: ver ? { ver } : {} }]));
    } else if (p.isObjectInstance()) {
      parts.push(instanceLink(objects, p));
    }
  }
  return { code: ResultCode.CONTENT, contentFormat: LwM2mContentFormat.LINK, payload: Buffer.from(parts.join(','), 'utf8') };
}

function instanceLink(objects: AgentObjects, path: LwM2mPath): string {
  const instance = objects.tree.object(path.objectId!)?.instances.get(path.instanceId!);
  const attributes: Link['attributes'] = {};
  let uri: string | undefined;
  if (instance && path.objectId === ObjectId.SECURITY) {
    const ssid = instance.read(SecurityResource.SHORT_SERVER_ID);
    if (instance.read(SecurityResource.BOOTSTRAP_SERVER) !== true && typeof ssid === 'number') attributes.ssid = String(ssid);
    const value = instance.read(SecurityResource.LWM2M_SERVER_URI);
    if (typeof value === 'string') uri = value;
  } else if (instance && path.objectId === ObjectId.SERVER) {
    const ssid = instance.read(ServerResource.SHORT_SERVER_ID);
    if (typeof ssid === 'number') attributes.ssid = String(ssid);
  }
  // The specification's examples quote uri; the link writer quotes only what RFC 6690 requires.
  return formatLinks([{ target: path.toString(), attributes }]) + (uri === undefined ? '' : `;uri="${uri.replace(/["\\]/g, '\\$&')}"`);
}
