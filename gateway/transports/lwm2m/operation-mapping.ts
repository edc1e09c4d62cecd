import type { CoapRequestSpec, CoapResponse } from '../../../common/coap/coap-client.js';
import { encodeUint } from '../../../protocol/coap/index.js';
import {
  chooseContentFormat,
  ContentDecodeError,
  decodeContent,
  decodeLinks,
  encodeContent,
  LwM2mContentFormat,
  type ClientFormats,
} from '../../../protocol/lwm2m/index.js';
import { isResultCode, LwM2mPath, ResultCode, type LwM2mRecord, type Operation, type OperationResult } from '../../../protocol/model/index.js';

/** What the server knows of a client that shapes its requests. */
export interface ClientProfile extends ClientFormats {
  /** Alternate path of the client's objects (`</lwm2m>;rt="oma.lwm2m"`). */
  rootPath: readonly string[];
}

/**
 * How one model operation travels as an LwM2M request (OMA LwM2M 1.1 Core §6.3, Transport
 * §6.4): method, path, Accept / Content-Format and payload. Pure, so each mapping is tested
 * without sockets; the DeviceLink sends what this builds and reads answers with `resultOf`.
 */
export function requestOf(op: Operation, client: ClientProfile): CoapRequestSpec {
  const path = [...client.rootPath, ...op.path.segments().map(String)];
  switch (op.kind) {
    case 'read':
    case 'observe': {
      const accept = readAccept(op.path, client);
      return { method: 'GET', path, options: accept === undefined ? [] : [['Accept', encodeUint(accept)]] };
    }
    case 'cancel-observe':
      // Proactive cancellation (RFC 7641 §3.6): a GET with Observe 1 (the link adds the token).
      return { method: 'GET', path, options: [['Observe', encodeUint(1)]] };
    case 'discover':
      return { method: 'GET', path, options: [['Accept', encodeUint(LwM2mContentFormat.LINK)]] };
    case 'write': {
      // Replace is PUT; a partial update is POST on the object instance (§6.3.3, Transport Table
      // 6.4.3-1): POST on a resource is Execute, so an update of a resource goes to its instance.
      const target = op.mode === 'update' && (op.path.isResource() || op.path.isResourceInstance()) ? LwM2mPath.of(op.path.objectId!, op.path.instanceId!) : op.path;
      const format = writeFormat(target, op.content, client);
      const targetPath = [...client.rootPath, ...target.segments().map(String)];
      return { method: op.mode === 'replace' ? 'PUT' : 'POST', path: targetPath, options: [['Content-Format', encodeUint(format)]], payload: encodeContent(format, op.content, target) };
    }
    case 'execute':
      return { method: 'POST', path, ...(op.args ? { payload: Buffer.from(op.args, 'utf8'), options: [['Content-Format', encodeUint(LwM2mContentFormat.TEXT)]] } : {}) };
    case 'create': {
      const format = instanceFormat(client);
      return { method: 'POST', path, options: [['Content-Format', encodeUint(format)]], payload: encodeContent(format, op.content, op.path) };
    }
    case 'delete':
      return { method: 'DELETE', path };
    case 'write-attributes': {
      const query = Object.entries(op.attributes)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`);
      return { method: 'PUT', path, query };
    }
  }
}

/** The operation's result from the client's response; content is decoded in the format the response names. */
export function resultOf(op: Operation, response: CoapResponse, client: ClientProfile): OperationResult {
  const code = isResultCode(response.code) ? response.code : undefined;
  if (!code) return { code: ResultCode.BAD_GATEWAY, message: `the client answered with CoAP code ${response.code}` };
  if (!code.startsWith('2.')) {
    const diagnostic = response.payload.length > 0 && response.payload.length <= 256 ? response.payload.toString('utf8') : undefined;
    return { code, ...(diagnostic && /^[\x20-\x7e]*$/.test(diagnostic) ? { message: diagnostic } : {}) };
  }
  try {
    switch (op.kind) {
      case 'read':
      case 'observe':
        return { code, content: decodeRecords(op.path, response) };
      case 'discover':
        return { code, links: decodeLinks(response.payload).map((l) => ({ ...l, target: stripRoot(l.target, client.rootPath) })) };
      case 'create': {
        const location = response.locationPath.slice(client.rootPath.length);
        return { code, ...(location.length ? { location: `/${location.join('/')}` } : {}) };
      }
      default:
        return { code };
    }
  } catch (err) {
    if (err instanceof ContentDecodeError) return { code: ResultCode.BAD_GATEWAY, message: `the client's answer could not be decoded: ${err.message}` };
    throw err;
  }
}

/** A notification or read response: records at or below `path`. */
export function decodeRecords(path: LwM2mPath, response: CoapResponse): LwM2mRecord[] {
  const format = response.contentFormat ?? defaultFormat(path);
  return decodeContent(format, response.payload, path).map(({ path: p, type, value }) => ({ path: p, type, value }));
}

/**
 * Accept for a Read: none for a single resource (any client can answer it in its own format,
 * and 1.0 clients often know only text/plain); for objects and instances the format the
 * client's version and announced formats call for. 1.0 clients get no Accept either: their
 * default for several values is TLV, which is what we would ask for.
 */
function readAccept(path: LwM2mPath, client: ClientProfile): number | undefined {
  if (path.isResource() || path.isResourceInstance()) return undefined;
  if (!isAtLeast11(client.lwm2mVersion)) return undefined;
  return chooseContentFormat(undefined, path, client);
}

/** A single value goes as text/plain (opaque as octet-stream); several as the client's instance format. */
function writeFormat(path: LwM2mPath, content: readonly LwM2mRecord[], client: ClientProfile): number {
  const single = content.length === 1 && content[0]!.path.equals(path) && (path.isResource() || path.isResourceInstance());
  if (single) return content[0]!.type === 'opaque' ? LwM2mContentFormat.OPAQUE : LwM2mContentFormat.TEXT;
  return instanceFormat(client);
}

function instanceFormat(client: ClientProfile): number {
  return chooseContentFormat(undefined, LwM2mPath.of(0, 0), client) ?? LwM2mContentFormat.TLV;
}

/** A response without Content-Format: text/plain for one resource (LwM2M 1.0 default), TLV otherwise. */
function defaultFormat(path: LwM2mPath): number {
  return path.isResource() || path.isResourceInstance() ? LwM2mContentFormat.TEXT : LwM2mContentFormat.TLV;
}

function isAtLeast11(version: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)$/.exec(version ?? '');
  return !!m && (Number(m[1]) > 1 || (Number(m[1]) === 1 && Number(m[2]) >= 1));
}

function stripRoot(target: string, root: readonly string[]): string {
  if (root.length === 0) return target;
  const prefix = `/${root.join('/')}`;
  return target.startsWith(`${prefix}/`) ? target.slice(prefix.length) : target;
}

