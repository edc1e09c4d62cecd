import { createHash } from 'node:crypto';
import { ObserveWriteStream, type OutgoingMessage } from 'coap';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import { respond, type ResponseOption } from '../../../common/coap/coap-response.js';
import { blockSize, decodeBlock, decodeUint, encodeBlock, encodeUint, MAX_BLOCK_SIZE, MAX_SZX } from '../../../protocol/coap/index.js';
import { describeResultCode, ResultCode } from '../../../protocol/model/index.js';

/** An answer to a request, before it is put on the wire. */
export interface Reply {
  code: ResultCode;
  payload?: Uint8Array;
  contentFormat?: number;
  /** Location-Path segments (Create: the new instance, `['1', '1']`). */
  locationPath?: string[];
}

/** The parts of a request the LwM2M interfaces look at, as plain values. */
export interface RequestView {
  method: string;
  path: readonly string[];
  query: readonly string[];
  accept: number | undefined;
  contentFormat: number | undefined;
  /** 0 registers an observation, 1 cancels one (RFC 7641 §2). */
  observe: number | undefined;
  /** The Block2 option, when the server asks for one block of a larger answer (RFC 7959 §2.4). */
  block2: Uint8Array | undefined;
  payload: Uint8Array;
}

export function requestView(req: CoapRequest): RequestView {
  const uint = (name: 'Accept' | 'Content-Format' | 'Observe') => {
    const v = req.option(name);
    return v === undefined ? undefined : decodeUint(v);
  };
  const path = [...req.path];
  while (path.at(-1) === '') path.pop(); // `coap://host/` names the root
  return {
    method: req.method,
    path,
    query: req.query,
    accept: uint('Accept'),
    contentFormat: uint('Content-Format'),
    observe: uint('Observe'),
    block2: req.option('Block2'),
    payload: req.raw.payload ?? Buffer.alloc(0),
  };
}

const MAX_DIAGNOSTIC_BYTES = 200;

/** An error answer with a short diagnostic payload (RFC 7252 §5.5.2). */
export function errorReply(code: ResultCode, message?: string): Reply {
  const text = Buffer.from(message ?? describeResultCode(code), 'utf8').subarray(0, MAX_DIAGNOSTIC_BYTES);
  return { code, payload: text };
}

export function isObserveStream(res: OutgoingMessage | ObserveWriteStream): res is ObserveWriteStream {
  return res instanceof ObserveWriteStream;
}

/**
 * Sends a reply. A GET with Observe 0 gets an ObserveWriteStream from the coap library instead
 * of an OutgoingMessage; answered here without registering (an error, a discover), it goes out
 * once without the Observe option and the stream is left alone: ending it would send again.
 *
 * Content larger than one block (1024 bytes; the library refuses to send datagrams above 1152)
 * goes block-wise (RFC 7959 §2.4): the block the request's Block2 asks for, else block 0 with
 * More set, each with an ETag of the whole content. Stateless: every block request is performed
 * again and its answer sliced, and the ETag tells the server when the content changed between.
 */
export function sendReply(res: OutgoingMessage | ObserveWriteStream, reply: Reply, block2?: Uint8Array): void {
  const payload = Buffer.from(reply.payload ?? new Uint8Array(0));
  const options: ResponseOption[] = reply.contentFormat === undefined ? [] : [['Content-Format', encodeUint(reply.contentFormat)]];
  let body: Buffer = payload;
  if (reply.code === ResultCode.CONTENT && (block2 !== undefined || payload.length > MAX_BLOCK_SIZE)) {
    const block = blockOf(payload, block2);
    if ('refused' in block) return sendReply(res, errorReply(ResultCode.BAD_OPTION, block.refused));
    body = block.chunk;
    options.push(...block.options);
  }
  if (isObserveStream(res)) {
    res.statusCode = reply.code;
    for (const [name, value] of options) res.setOption(name, value);
    res._doSend(body);
    return;
  }
  for (const segment of reply.locationPath ?? []) options.push(['Location-Path', Buffer.from(segment, 'utf8')]);
  respond(res, reply.code, body, options);
}

/** The first answer of an observation, or a notification: 2.05 with the next Observe sequence number (block 0 when large, RFC 7959 §2.6). */
export function sendNotification(stream: ObserveWriteStream, contentFormat: number, payload: Uint8Array): boolean {
  if (stream.writableEnded || stream.destroyed) return false;
  stream.statusCode = '2.05';
  // The stream keeps its options from one notification to the next: a large one's block options go.
  stream._packet.options = (stream._packet.options ?? []).filter((o) => !BLOCK_OPTIONS.has(String(o.name)));
  stream.setOption('Content-Format', encodeUint(contentFormat));
  let body: Buffer = Buffer.from(payload);
  if (body.length > MAX_BLOCK_SIZE) {
    const block = blockOf(body, undefined);
    if ('chunk' in block) {
      body = block.chunk;
      for (const [name, value] of block.options) stream.setOption(name, value);
    }
  }
  stream.write(body);
  return true;
}

const BLOCK_OPTIONS = new Set<string>(['Block2', 'ETag', 'Size2']);

function blockOf(payload: Buffer, asked: Uint8Array | undefined): { chunk: Buffer; options: ResponseOption[] } | { refused: string } {
  const block = asked === undefined ? { num: 0, szx: MAX_SZX } : decodeBlock(asked);
  if (!block) return { refused: 'malformed Block2 option' };
  const szx = Math.min(block.szx, MAX_SZX);
  const size = blockSize(szx);
  const offset = block.num * size;
  if (offset > 0 && offset >= payload.length) return { refused: `block ${block.num} of ${size} bytes starts past the end (${payload.length} bytes)` };
  const chunk = payload.subarray(offset, offset + size);
  const more = offset + chunk.length < payload.length;
  const options: ResponseOption[] = [
    ['ETag', createHash('sha256').update(payload).digest().subarray(0, 8)],
    ['Block2', encodeBlock({ num: block.num, more, szx })],
  ];
  if (block.num === 0) options.push(['Size2', encodeUint(payload.length)]);
  return { chunk, options };
}
/**
 * Leaves a request unanswered, as a device with its radio off would: not even the empty ACK the
 * coap library sends when a handler has not answered within its piggyback delay.
 */
export function dropRequest(res: OutgoingMessage | ObserveWriteStream): void {
  if (isObserveStream(res)) return;
  if (res._ackTimer) clearTimeout(res._ackTimer);
  res._ackTimer = null;
}
