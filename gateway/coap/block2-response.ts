import type { OutgoingMessage } from 'coap';
import { blockSize, ContentFormat, decodeBlock, encodeBlock, encodeUint, MAX_BLOCK_SIZE, MAX_SZX, szxOf } from '../../protocol/coap/index.js';
import { respond, respondError, type ResponseOption } from '../../common/coap/coap-response.js';
import type { CoapRequest } from '../../common/coap/coap-router.js';

/** A resource served block by block: its size, validator and a way to read one range of it. */
export interface Representation {
  size: number;
  /** ETag option value, at most 8 bytes; the same for every block of the same content. */
  etag: Buffer;
  contentFormat: (typeof ContentFormat)[keyof typeof ContentFormat];
  /** Reads `length` bytes at `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Max-Age in seconds; the CoAP default (60) when absent. */
  maxAge?: number;
}

const DEFAULT_SZX = szxOf(MAX_BLOCK_SIZE);

/**
 * Answers one request for `rep` with the block it asks for (RFC 7959 §2.4): the client's block
 * number and size are honoured (up to 1024 bytes), only that range is read, and every block
 * carries the ETag so a client can tell when the content changed under it. Size2 comes with
 * block 0 and whenever the request carries Size2 (§4). A request without Block2 for something
 * larger than one block gets block 0 and M=1. Resolves to the payload bytes sent.
 */
export async function respondBlock(req: CoapRequest, res: OutgoingMessage, rep: Representation): Promise<number> {
  const asked = req.option('Block2');
  let num = 0;
  let szx = DEFAULT_SZX;
  if (asked) {
    const block = decodeBlock(asked);
    if (!block) return refuse(res, '4.02', 'malformed Block2 option');
    if (block.szx > MAX_SZX) return refuse(res, '4.00', 'Block2 SZX 7 (BERT) is not available over UDP');
    num = block.num;
    szx = block.szx;
  }
  const size = blockSize(szx);
  const offset = num * size;
  if (offset > 0 && offset >= rep.size) return refuse(res, '4.02', `block ${num} of ${size} bytes starts past the end (${rep.size} bytes)`);

  const payload = await rep.read(offset, Math.min(size, rep.size - offset));
  const more = offset + payload.length < rep.size;
  const options: ResponseOption[] = [
    ['ETag', rep.etag],
    ['Content-Format', encodeUint(rep.contentFormat)],
  ];
  if (asked || more) options.push(['Block2', encodeBlock({ num, more, szx })]);
  if (num === 0 || req.option('Size2') !== undefined) options.push(['Size2', encodeUint(rep.size)]);
  if (rep.maxAge !== undefined) options.push(['Max-Age', encodeUint(rep.maxAge)]);
  respond(res, '2.05', payload, options);
  return payload.length;
}

function refuse(res: OutgoingMessage, code: string, diagnostic: string): number {
  respondError(res, code, diagnostic);
  return 0;
}
