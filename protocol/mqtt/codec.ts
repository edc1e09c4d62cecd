import protobuf from 'protobufjs';
import {
  assertValueOfType,
  InvalidPathError,
  InvalidValueError,
  isResultCode,
  isValidBlock,
  LwM2mPath,
  normaliseInteger,
  type Link,
  type LwM2mRecord,
  type LwM2mValue,
  type NotificationAttributes,
  type ObjectLink,
  type Operation,
  type OperationResult,
  type ResourceType,
  type ResultCode,
} from '../model/index.js';
import type {
  BootstrapRequest,
  BootstrapResponse,
  DeregisterMessage,
  HeldObservation,
  NotifyMessage,
  RegisterMessage,
  RequestMessage,
  ResponseMessage,
  SessionState,
  StatusMessage,
  UpdateMessage,
} from './messages.js';
import { DESCRIPTOR } from './schema.generated.js';

/**
 * Protobuf wire forms of the DM-over-MQTT messages. Decoding is strict: a message that
 * protobuf accepts but that makes no sense in the model (a bad path, a value that does not
 * match its type, an unknown result code, a missing id) is rejected with a reason, so
 * nothing malformed ever reaches the agent's object tree or the gateway's registry.
 */

/** 256 KiB: far above any DM message we send, far below what would hurt a small device. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

export interface CodecLimits {
  maxMessageBytes?: number;
  /** Records in one message's content. */
  maxRecords?: number;
  /** Links in one register or discover message. */
  maxLinks?: number;
}

const DEFAULT_LIMITS: Required<CodecLimits> = { maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, maxRecords: 10_000, maxLinks: 10_000 };

export class MessageDecodeError extends Error {
  constructor(
    readonly messageType: string,
    readonly reason: string,
  ) {
    super(`malformed ${messageType}: ${reason}`);
    this.name = 'MessageDecodeError';
  }
}

const root = protobuf.Root.fromJSON(DESCRIPTOR);
const type = (name: string): protobuf.Type => root.lookupType(`edgedm.v1.${name}`);
const Types = {
  BootstrapRequest: type('BootstrapRequest'),
  BootstrapResponse: type('BootstrapResponse'),
  RegisterMessage: type('RegisterMessage'),
  UpdateMessage: type('UpdateMessage'),
  DeregisterMessage: type('DeregisterMessage'),
  RequestMessage: type('RequestMessage'),
  ResponseMessage: type('ResponseMessage'),
  NotifyMessage: type('NotifyMessage'),
  StatusMessage: type('StatusMessage'),
};
type TypeName = keyof typeof Types;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: true, arrays: true, oneofs: true };

// ---- enums ---------------------------------------------------------------------------------

const VALUE_TYPES: Record<Exclude<ResourceType, 'none'>, number> = {
  string: 1,
  integer: 2,
  unsigned: 3,
  float: 4,
  boolean: 5,
  opaque: 6,
  time: 7,
  objlnk: 8,
  corelnk: 9,
};
const VALUE_TYPE_NAMES = invert(VALUE_TYPES);
const VALUE_FIELD: Record<Exclude<ResourceType, 'none'>, string> = {
  string: 'stringValue',
  integer: 'integerValue',
  unsigned: 'unsignedValue',
  float: 'floatValue',
  boolean: 'booleanValue',
  opaque: 'opaqueValue',
  time: 'timeValue',
  objlnk: 'objlnkValue',
  corelnk: 'corelnkValue',
};

const OPERATION_KINDS: Record<Operation['kind'], number> = {
  read: 1,
  write: 2,
  execute: 3,
  discover: 4,
  observe: 5,
  'cancel-observe': 6,
  create: 7,
  delete: 8,
  'write-attributes': 9,
};
const OPERATION_KIND_NAMES = invert(OPERATION_KINDS);

const WRITE_MODES = { replace: 1, update: 2 } as const;

function invert<K extends string>(m: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
}

// ---- generic encode / decode -----------------------------------------------------------------

function encode(name: TypeName, plain: Record<string, unknown>): Uint8Array {
  const t = Types[name];
  return t.encode(t.fromObject(plain)).finish();
}

/** Size check first, then protobuf, then the model checks in `convert`. */
function decode<T>(name: TypeName, payload: Uint8Array, limits: CodecLimits | undefined, convert: (m: any, ctx: Ctx) => T): T {
  const l = { ...DEFAULT_LIMITS, ...limits };
  if (!(payload instanceof Uint8Array)) throw new MessageDecodeError(name, 'payload is not binary');
  if (payload.length > l.maxMessageBytes) {
    throw new MessageDecodeError(name, `${payload.length} bytes exceeds the ${l.maxMessageBytes}-byte limit`);
  }
  let plain: any;
  try {
    const t = Types[name];
    plain = t.toObject(t.decode(payload), TO_OBJECT);
  } catch (err) {
    throw new MessageDecodeError(name, `not a valid protobuf message (${(err as Error).message})`);
  }
  const ctx = new Ctx(name, l);
  try {
    return convert(plain, ctx);
  } catch (err) {
    if (err instanceof MessageDecodeError) throw err;
    if (err instanceof InvalidPathError || err instanceof InvalidValueError) throw new MessageDecodeError(name, err.message);
    throw err;
  }
}

class Ctx {
  constructor(
    readonly name: string,
    readonly limits: Required<CodecLimits>,
  ) {}

  fail(reason: string): never {
    throw new MessageDecodeError(this.name, reason);
  }

  requireId(value: string, field: string): string {
    if (!value) this.fail(`${field} is missing`);
    if (value.length > 128) this.fail(`${field} is longer than 128 characters`);
    return value;
  }

  resultCode(value: string): ResultCode {
    if (!isResultCode(value)) this.fail(`unknown result code "${value}"`);
    return value as ResultCode;
  }

  bytes(value: Uint8Array, field: string, maxLength: number): Uint8Array {
    if (value.length > maxLength) this.fail(`${field} is longer than ${maxLength} bytes`);
    return new Uint8Array(value);
  }

  records(list: any[]): LwM2mRecord[] {
    if (list.length > this.limits.maxRecords) this.fail(`${list.length} records exceed the limit of ${this.limits.maxRecords}`);
    return list.map((r) => this.record(r));
  }

  links(list: any[]): Link[] {
    if (list.length > this.limits.maxLinks) this.fail(`${list.length} links exceed the limit of ${this.limits.maxLinks}`);
    return list.map(linkFromWire);
  }

  private record(r: any): LwM2mRecord {
    const path = LwM2mPath.parse(r.path);
    if (!path.isResource() && !path.isResourceInstance()) this.fail(`record path ${r.path} is not a resource or resource instance`);
    const t = VALUE_TYPE_NAMES.get(r.type);
    if (!t) this.fail(`record ${r.path} has no valid type`);
    const rt = t as Exclude<ResourceType, 'none'>;
    if (r.value !== VALUE_FIELD[rt]) this.fail(`record ${r.path} of type ${rt} carries ${r.value ?? 'no value'}`);
    const value = valueFromWire(rt, r[VALUE_FIELD[rt]]);
    assertValueOfType(rt, value);
    return { path, type: rt, value };
  }
}

// ---- records, links, attributes ------------------------------------------------------------

function recordToWire(r: LwM2mRecord): Record<string, unknown> {
  if (r.type === 'none') throw new InvalidValueError(`record ${r.path} has type none, which carries no value`);
  assertValueOfType(r.type, r.value);
  return { path: r.path.toString(), type: VALUE_TYPES[r.type], [VALUE_FIELD[r.type]]: valueToWire(r.type, r.value) };
}

function valueToWire(t: Exclude<ResourceType, 'none'>, v: LwM2mValue): unknown {
  switch (t) {
    case 'integer':
    case 'unsigned':
      return String(v); // Long-safe: fromObject parses decimal strings for 64-bit fields
    case 'time':
      return String(Math.floor((v as Date).getTime() / 1000));
    case 'objlnk': {
      const l = v as ObjectLink;
      return { objectId: l.objectId, instanceId: l.instanceId };
    }
    default:
      return v;
  }
}

function valueFromWire(t: Exclude<ResourceType, 'none'>, v: any): LwM2mValue {
  switch (t) {
    case 'integer':
    case 'unsigned':
      return normaliseInteger(BigInt(v));
    case 'time':
      return new Date(Number(v) * 1000);
    case 'opaque':
      return new Uint8Array(v);
    case 'objlnk':
      return { objectId: v.objectId, instanceId: v.instanceId };
    default:
      return v;
  }
}

function linkToWire(l: Link): Record<string, unknown> {
  return {
    target: l.target,
    attributes: Object.entries(l.attributes).map(([name, value]) => (value === undefined ? { name } : { name, value })),
  };
}

function linkFromWire(l: any): Link {
  const attributes: Record<string, string | undefined> = {};
  for (const a of l.attributes) attributes[a.name] = a.value ?? undefined;
  if (typeof l.target !== 'string' || !l.target.startsWith('/')) throw new MessageDecodeError('Link', `link target "${l.target}" is not a path`);
  return { target: l.target, attributes };
}

function attributesFromWire(a: any): NotificationAttributes {
  const out: NotificationAttributes = {};
  if (!a) return out;
  for (const k of ['pmin', 'pmax', 'gt', 'lt', 'st'] as const) if (a[k] !== undefined && a[k] !== null) out[k] = a[k];
  return out;
}

// ---- messages --------------------------------------------------------------------------------

export function encodeBootstrapRequest(m: BootstrapRequest): Uint8Array {
  return encode('BootstrapRequest', { requestId: m.requestId, endpoint: m.endpoint });
}

export function decodeBootstrapRequest(payload: Uint8Array, limits?: CodecLimits): BootstrapRequest {
  return decode('BootstrapRequest', payload, limits, (m, ctx) => ({
    requestId: ctx.requireId(m.requestId, 'request_id'),
    endpoint: ctx.requireId(m.endpoint, 'endpoint'),
  }));
}

export function encodeBootstrapResponse(m: BootstrapResponse): Uint8Array {
  return encode('BootstrapResponse', {
    requestId: m.requestId,
    code: m.code,
    message: m.message ?? '',
    content: m.content.map(recordToWire),
    firmwareTrustAnchor: m.firmwareTrustAnchor ?? new Uint8Array(0),
  });
}

export function decodeBootstrapResponse(payload: Uint8Array, limits?: CodecLimits): BootstrapResponse {
  return decode('BootstrapResponse', payload, limits, (m, ctx) => ({
    requestId: ctx.requireId(m.requestId, 'request_id'),
    code: ctx.resultCode(m.code),
    ...(m.message ? { message: m.message } : {}),
    content: ctx.records(m.content),
    ...(m.firmwareTrustAnchor?.length ? { firmwareTrustAnchor: ctx.bytes(m.firmwareTrustAnchor, 'firmware_trust_anchor', 1024) } : {}),
  }));
}

export function encodeRegisterMessage(m: RegisterMessage): Uint8Array {
  return encode('RegisterMessage', {
    lwm2mVersion: m.lwm2mVersion,
    lifetime: m.lifetime,
    binding: m.binding,
    queueMode: m.queueMode,
    objectLinks: m.objectLinks.map(linkToWire),
    ...(m.session ? { session: sessionToWire(m.session) } : {}),
  });
}

export function decodeRegisterMessage(payload: Uint8Array, limits?: CodecLimits): RegisterMessage {
  return decode('RegisterMessage', payload, limits, (m, ctx) => {
    if (!/^1\.\d$/.test(m.lwm2mVersion)) ctx.fail(`unsupported LwM2M version "${m.lwm2mVersion}"`);
    if (!m.lifetime) ctx.fail('lifetime must be at least 1 second');
    if (!/^[UMSNT]+$/.test(m.binding)) ctx.fail(`binding "${m.binding}" is not a set of LwM2M binding letters`);
    const message: RegisterMessage = { lwm2mVersion: m.lwm2mVersion, lifetime: m.lifetime, binding: m.binding, queueMode: m.queueMode, objectLinks: ctx.links(m.objectLinks) };
    if (m.session) message.session = sessionFromWire(m.session, ctx);
    return message;
  });
}

function sessionToWire(s: SessionState): Record<string, unknown> {
  return {
    bootId: s.bootId,
    observations: s.observations.map((o) => ({ id: o.id, path: o.path.toString(), attributes: { ...o.attributes } })),
  };
}

function sessionFromWire(s: any, ctx: Ctx): SessionState {
  const bootId = ctx.requireId(s.bootId, 'session.boot_id');
  // One per path at most: as many as links is more than any device holds.
  if (s.observations.length > ctx.limits.maxLinks) ctx.fail(`${s.observations.length} held observations exceed the limit of ${ctx.limits.maxLinks}`);
  const observations = s.observations.map((o: any): HeldObservation => ({
    id: ctx.requireId(o.id, 'session.observations.id'),
    path: LwM2mPath.parse(o.path),
    attributes: attributesFromWire(o.attributes),
  }));
  return { bootId, observations };
}

export function encodeUpdateMessage(m: UpdateMessage): Uint8Array {
  return encode('UpdateMessage', {
    ...(m.lifetime !== undefined ? { lifetime: m.lifetime } : {}),
    hasObjectLinks: m.objectLinks !== undefined,
    objectLinks: (m.objectLinks ?? []).map(linkToWire),
  });
}

export function decodeUpdateMessage(payload: Uint8Array, limits?: CodecLimits): UpdateMessage {
  return decode('UpdateMessage', payload, limits, (m, ctx) => {
    const out: UpdateMessage = {};
    if (m.lifetime !== undefined && m.lifetime !== null) {
      if (m.lifetime === 0) ctx.fail('lifetime must be at least 1 second');
      out.lifetime = m.lifetime;
    }
    if (m.hasObjectLinks) out.objectLinks = ctx.links(m.objectLinks);
    return out;
  });
}

export function encodeDeregisterMessage(m: DeregisterMessage): Uint8Array {
  return encode('DeregisterMessage', { reason: m.reason ?? '' });
}

export function decodeDeregisterMessage(payload: Uint8Array, limits?: CodecLimits): DeregisterMessage {
  return decode('DeregisterMessage', payload, limits, (m) => (m.reason ? { reason: m.reason } : {}));
}

export function encodeRequestMessage(m: RequestMessage): Uint8Array {
  const op = m.operation;
  const plain: Record<string, unknown> = { id: m.id, kind: OPERATION_KINDS[op.kind], path: op.path.toString() };
  if (op.kind === 'write') {
    plain.writeMode = WRITE_MODES[op.mode];
    plain.content = op.content.map(recordToWire);
    if (op.block) plain.block = { ...op.block };
  } else if (op.kind === 'create') {
    plain.content = op.content.map(recordToWire);
  } else if (op.kind === 'execute' && op.args !== undefined) {
    plain.args = op.args;
  } else if (op.kind === 'write-attributes') {
    plain.attributes = { ...op.attributes };
  }
  return encode('RequestMessage', plain);
}

export function decodeRequestMessage(payload: Uint8Array, limits?: CodecLimits): RequestMessage {
  return decode('RequestMessage', payload, limits, (m, ctx) => {
    const id = ctx.requireId(m.id, 'id');
    const kind = OPERATION_KIND_NAMES.get(m.kind);
    if (!kind) ctx.fail(`unknown operation kind ${m.kind}`);
    const path = LwM2mPath.parse(m.path);
    let operation: Operation;
    switch (kind) {
      case 'write': {
        const mode = m.writeMode === WRITE_MODES.replace ? 'replace' : m.writeMode === WRITE_MODES.update ? 'update' : ctx.fail('write without a write mode');
        const content = ctx.records(m.content);
        if (content.length === 0) ctx.fail('write without content');
        if (content.some((r) => !r.path.startsWith(path))) ctx.fail(`write content lies outside ${path}`);
        if (m.block) {
          const block = { num: m.block.num, size: m.block.size, more: m.block.more };
          if (!isValidBlock(block)) ctx.fail(`invalid block ${block.num} of ${block.size} bytes`);
          if (content.length !== 1 || content[0]!.type !== 'opaque') ctx.fail('a block-wise write carries one opaque record');
          operation = { kind, path, mode, content, block };
        } else {
          operation = { kind, path, mode, content };
        }
        break;
      }
      case 'create': {
        const content = ctx.records(m.content);
        operation = { kind, path, content };
        break;
      }
      case 'execute':
        operation = m.args !== undefined && m.args !== null ? { kind, path, args: m.args } : { kind, path };
        break;
      case 'write-attributes':
        operation = { kind, path, attributes: attributesFromWire(m.attributes) };
        break;
      default:
        operation = { kind: kind as 'read' | 'discover' | 'observe' | 'cancel-observe' | 'delete', path };
    }
    return { id, operation };
  });
}

export function encodeResponseMessage(m: ResponseMessage): Uint8Array {
  const r = m.result;
  return encode('ResponseMessage', {
    id: m.id,
    code: r.code,
    message: r.message ?? '',
    content: (r.content ?? []).map(recordToWire),
    hasLinks: r.links !== undefined,
    links: (r.links ?? []).map(linkToWire),
    location: r.location ?? '',
    ...(r.nextOffset !== undefined ? { nextOffset: r.nextOffset } : {}),
  });
}

export function decodeResponseMessage(payload: Uint8Array, limits?: CodecLimits): ResponseMessage {
  return decode('ResponseMessage', payload, limits, (m, ctx) => {
    const result: OperationResult = { code: ctx.resultCode(m.code) };
    if (m.message) result.message = m.message;
    if (m.content.length > 0) result.content = ctx.records(m.content);
    if (m.hasLinks) result.links = ctx.links(m.links);
    if (m.location) result.location = m.location;
    if (m.nextOffset !== undefined && m.nextOffset !== null) result.nextOffset = m.nextOffset;
    return { id: ctx.requireId(m.id, 'id'), result };
  });
}

export function encodeNotifyMessage(m: NotifyMessage): Uint8Array {
  return encode('NotifyMessage', {
    observationId: m.observationId,
    path: m.path.toString(),
    sequence: m.sequence,
    content: m.content.map(recordToWire),
  });
}

export function decodeNotifyMessage(payload: Uint8Array, limits?: CodecLimits): NotifyMessage {
  return decode('NotifyMessage', payload, limits, (m, ctx) => {
    const path = LwM2mPath.parse(m.path);
    const content = ctx.records(m.content);
    if (content.some((r) => !r.path.startsWith(path))) ctx.fail(`notification content lies outside ${path}`);
    return { observationId: ctx.requireId(m.observationId, 'observation_id'), path, sequence: m.sequence, content };
  });
}

export function encodeStatusMessage(m: StatusMessage): Uint8Array {
  return encode('StatusMessage', { online: m.online, reason: m.reason ?? '' });
}

export function decodeStatusMessage(payload: Uint8Array, limits?: CodecLimits): StatusMessage {
  return decode('StatusMessage', payload, limits, (m) => (m.reason ? { online: m.online, reason: m.reason } : { online: m.online }));
}
