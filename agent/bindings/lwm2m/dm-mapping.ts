import {
  chooseContentFormat,
  codecFor,
  ContentDecodeError,
  ContentEncodeError,
  decodeContent,
  encodeContent,
  encodeLinks,
  LwM2mContentFormat,
} from '../../../protocol/lwm2m/index.js';
import {
  isSuccess,
  LwM2mPath,
  NOTIFICATION_ATTRIBUTE_NAMES,
  ResultCode,
  type LwM2mRecord,
  type NotificationAttributes,
  type Operation,
  type OperationResult,
} from '../../../protocol/model/index.js';
import { errorReply, type Reply, type RequestView } from './coap-reply.js';

/**
 * The client side of the LwM2M Device Management interface (OMA LwM2M 1.1 Core §6.3, Transport
 * §6.4): a CoAP request becomes a model operation, an operation's result becomes the answer.
 * The inverse of gateway/transports/lwm2m/operation-mapping.ts; pure, so each rule is tested
 * without sockets. See README.md for the table.
 */
export type Mapped = { operation: Operation; accept: number | undefined } | { reply: Reply };

export interface MappingContext {
  /** The id a Create without one would get (a 1.0 TLV Create carries bare resources). */
  nextInstanceId(objectId: number): number | undefined;
}

const fail = (code: ResultCode, message: string): { reply: Reply } => ({ reply: errorReply(code, message) });

/** Uri-Path segments → an LwM2M path; anything else (`/foo`, `/3/x`, five levels) is undefined. */
export function pathOf(segments: readonly string[]): LwM2mPath | undefined {
  try {
    return segments.length === 0 ? LwM2mPath.ROOT : LwM2mPath.parse(`/${segments.join('/')}`);
  } catch {
    return undefined;
  }
}

export function operationOf(req: RequestView, ctx: MappingContext): Mapped {
  const path = pathOf(req.path);
  if (!path) return fail(ResultCode.NOT_FOUND, `/${req.path.join('/')} is not an LwM2M path`);
  const accept = req.accept;
  switch (req.method) {
    case 'GET': {
      if (accept === LwM2mContentFormat.LINK) {
        if (req.observe === 0) return fail(ResultCode.BAD_REQUEST, 'Discover cannot be observed');
        return { operation: { kind: 'discover', path }, accept };
      }
      if (accept !== undefined && chooseContentFormat(accept, path) === undefined) {
        return fail(ResultCode.NOT_ACCEPTABLE, `content format ${accept} is not one this client answers ${path} in`);
      }
      if (req.observe === 0) return { operation: { kind: 'observe', path }, accept };
      if (req.observe === 1) return { operation: { kind: 'cancel-observe', path }, accept };
      return { operation: { kind: 'read', path }, accept };
    }
    case 'PUT': {
      const hasContent = req.payload.length > 0 || req.contentFormat !== undefined;
      if (!hasContent && req.query.length > 0) {
        const attributes = attributesOf(req.query);
        if ('reply' in attributes) return attributes;
        return { operation: { kind: 'write-attributes', path, attributes: attributes.attributes }, accept };
      }
      if (!hasContent) return fail(ResultCode.BAD_REQUEST, 'a write needs content');
      const content = decodeBody(req, path);
      if ('reply' in content) return content;
      return { operation: { kind: 'write', path, mode: 'replace', content: content.records }, accept };
    }
    case 'POST': {
      if (path.isResource()) {
        const args = Buffer.from(req.payload).toString('utf8');
        return { operation: { kind: 'execute', path, ...(args ? { args } : {}) }, accept };
      }
      if (path.isObjectInstance()) {
        const content = decodeBody(req, path);
        if ('reply' in content) return content;
        return { operation: { kind: 'write', path, mode: 'update', content: content.records }, accept };
      }
      if (path.isObject()) {
        if (req.payload.length === 0) return { operation: { kind: 'create', path, content: [] }, accept };
        const content = decodeCreate(req, path, ctx);
        if ('reply' in content) return content;
        return { operation: { kind: 'create', path, content: content.records }, accept };
      }
      return fail(ResultCode.METHOD_NOT_ALLOWED, `POST is not defined on ${path}`);
    }
    case 'DELETE':
      return { operation: { kind: 'delete', path }, accept };
    default:
      return fail(ResultCode.METHOD_NOT_ALLOWED, `${req.method} is not supported`);
  }
}

type Decoded = { records: LwM2mRecord[] } | { reply: Reply };

/**
 * The payload's records at the request path, in its Content-Format. Without one, the LwM2M 1.0
 * defaults: text/plain for a resource, TLV above.
 */
export function decodeBody(req: RequestView, path: LwM2mPath): Decoded {
  const format = req.contentFormat ?? (path.isResource() || path.isResourceInstance() ? LwM2mContentFormat.TEXT : LwM2mContentFormat.TLV);
  if (!codecFor(format)) return fail(ResultCode.UNSUPPORTED_CONTENT_FORMAT, `content format ${format} is not supported here`);
  try {
    return { records: decodeContent(format, req.payload, path).map(({ path: p, type, value }) => ({ path: p, type, value })) };
  } catch (err) {
    if (err instanceof ContentDecodeError) return fail(ResultCode.BAD_REQUEST, err.message);
    throw err;
  }
}

/** Create content: a TLV without an instance wrapper (LwM2M 1.0) is read as the next instance's resources. */
function decodeCreate(req: RequestView, path: LwM2mPath, ctx: MappingContext): Decoded {
  const decoded = decodeBody(req, path);
  if (!('reply' in decoded) || (req.contentFormat ?? LwM2mContentFormat.TLV) !== LwM2mContentFormat.TLV) return decoded;
  const id = ctx.nextInstanceId(path.objectId!);
  if (id === undefined) return decoded;
  const bare = decodeBody(req, path.child(id));
  return 'reply' in bare ? decoded : bare;
}

/**
 * Write-Attributes query parameters (LwM2M 1.1 Core §5.1.2): `pmin=10`, `st=0.5`; a name without
 * a value removes the attribute. Periods are whole seconds, `st` is not negative.
 */
export function attributesOf(query: readonly string[]): { attributes: NotificationAttributes } | { reply: Reply } {
  const attributes: NotificationAttributes = {};
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    const text = eq < 0 ? undefined : q.slice(eq + 1);
    if (!(NOTIFICATION_ATTRIBUTE_NAMES as readonly string[]).includes(name)) {
      return fail(ResultCode.BAD_REQUEST, `attribute "${name.slice(0, 32)}" is not supported`);
    }
    const key = name as keyof NotificationAttributes;
    if (Object.prototype.hasOwnProperty.call(attributes, key)) return fail(ResultCode.BAD_REQUEST, `attribute "${name}" given twice`);
    if (text === undefined) {
      attributes[key] = undefined;
      continue;
    }
    const value = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
    const period = key === 'pmin' || key === 'pmax';
    if (!Number.isFinite(value) || (period && (!Number.isInteger(value) || value < 0)) || (key === 'st' && value < 0)) {
      return fail(ResultCode.BAD_REQUEST, `"${q.slice(0, 40)}" is not a valid ${name}`);
    }
    attributes[key] = value;
  }
  return { attributes };
}

/**
 * The format several values go in when the request names none: TLV for LwM2M (every server of
 * every version reads it), SenML for plain CoAP (RFC 8428, the CoRE format).
 */
export type MultipleValueFormat = number;

/**
 * The format of a read or notification (LwM2M 1.1 Transport §6.4 leaves it to the client when
 * there is no Accept):
 * - Accept: what chooseContentFormat makes of it (undefined → 4.06);
 * - no Accept, one value at the resource (instance) path asked for: text/plain, or
 *   application/octet-stream for an opaque one;
 * - no Accept otherwise: `multiple` (TLV unless the binding says otherwise).
 */
export function readFormat(accept: number | undefined, path: LwM2mPath, content: readonly LwM2mRecord[], multiple: MultipleValueFormat = LwM2mContentFormat.TLV): number | undefined {
  if (accept !== undefined) return chooseContentFormat(accept, path, { lwm2mVersion: '1.1' });
  const single = content.length === 1 && content[0]!.path.equals(path) && (path.isResource() || path.isResourceInstance());
  if (single) return content[0]!.type === 'opaque' ? LwM2mContentFormat.OPAQUE : LwM2mContentFormat.TEXT;
  return multiple;
}

/** Records in the format for `accept`; a format that cannot carry them is 4.06 when asked for. */
export function contentReply(code: ResultCode, accept: number | undefined, path: LwM2mPath, content: readonly LwM2mRecord[], multiple?: MultipleValueFormat): Reply {
  const format = readFormat(accept, path, content, multiple);
  if (format === undefined) return errorReply(ResultCode.NOT_ACCEPTABLE, `content format ${accept} is not one this client answers ${path} in`);
  try {
    return { code, contentFormat: format, payload: encodeContent(format, content, path) };
  } catch (err) {
    if (!(err instanceof ContentEncodeError)) throw err;
    return errorReply(accept === undefined ? ResultCode.INTERNAL_SERVER_ERROR : ResultCode.NOT_ACCEPTABLE, err.message);
  }
}

/** The answer to an operation the object tree performed. */
export function resultReply(op: Operation, result: OperationResult, accept: number | undefined, multiple?: MultipleValueFormat): Reply {
  if (!isSuccess(result.code)) return errorReply(result.code, result.message);
  switch (op.kind) {
    case 'read':
    case 'observe':
      return contentReply(result.code, accept, op.path, result.content ?? [], multiple);
    case 'discover':
      return { code: result.code, contentFormat: LwM2mContentFormat.LINK, payload: encodeLinks(result.links ?? []) };
    case 'create':
      return { code: result.code, ...(result.location ? { locationPath: result.location.split('/').filter(Boolean) } : {}) };
    default:
      return { code: result.code };
  }
}
