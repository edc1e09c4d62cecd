import { createSocket } from 'node:dgram';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { OptionName } from 'coap-packet';
import { CoapClient, CoapTimeoutError, resolveCoapUri, type CoapResponse, type CoapTarget, type CoapTransmission } from '../../common/coap/coap-client.js';
import { blockSize, codeNumber, decodeBlock, decodeUint, encodeBlock, MAX_BLOCK_SIZE, szxOf, type BlockOption } from '../../protocol/coap/index.js';
import { DownloadRefused, type FetchOptions, type PackageSource, type ResumableFetchResult } from './package-source.js';

export interface CoapSourceOptions {
  /** How long one block request may go unanswered (default 5 s). */
  requestTimeoutMs?: number;
  /** Tries per block before the fetch fails and the updater's retry resumes it (default 3). */
  attemptsPerBlock?: number;
  /** First retransmission of a request (RFC 7252 ACK_TIMEOUT, default 2 s). */
  ackTimeoutMs?: number;
  /** Block size asked for: a power of two, 16..1024 (default 1024). */
  blockSize?: number;
}

/** One answered block: the response and what its options say. */
interface BlockReply {
  code: string;
  payload: Buffer;
  block: BlockOption | undefined;
  /** ETag option as hex. */
  etag: string | undefined;
  size2: number | undefined;
}

/**
 * Pull over CoAP with Block2 (RFC 7959), block by block: each block is asked for by number and
 * appended to the part file as it arrives, so a drop keeps everything before it and the next
 * attempt starts at the next block boundary. Every block's ETag must match the one the download
 * started with (kept next to the part file, `<part>.etag`); a different one means a different
 * image, which is fetched from zero rather than stitched onto the old bytes.
 */
export function createCoapSource(options: CoapSourceOptions = {}): PackageSource {
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  // Retransmitted until the request's deadline, whatever the count (RFC 7252 backoff from ACK_TIMEOUT).
  const transmission: CoapTransmission = { ackTimeoutMs: options.ackTimeoutMs ?? 2000, ackRandomFactor: 1.5, maxRetransmit: 16 };
  const attempts = options.attemptsPerBlock ?? 3;
  const preferredSzx = szxOf(options.blockSize ?? MAX_BLOCK_SIZE);

  async function getBlock(peer: BlockPeer, num: number, szx: number, askSize: boolean, signal?: AbortSignal): Promise<BlockReply> {
    const requestOptions: [OptionName, Buffer][] = [['Block2', encodeBlock({ num, more: false, szx })]];
    // Size2 0 in a request asks for the total size (RFC 7959 §4), which a resume needs too.
    if (askSize) requestOptions.push(['Size2', Buffer.alloc(0)]);
    for (let attempt = 1; ; attempt++) {
      let response: CoapResponse;
      try {
        // One block per request: the client must not follow Block2 by itself, each block goes
        // to the part file before the next is asked for.
        response = await peer.client.request(
          peer.target,
          { method: 'GET', path: peer.target.path, query: peer.target.query, options: requestOptions },
          { timeoutMs, signal, followBlock2: false },
        );
      } catch (err) {
        if (err instanceof CoapTimeoutError && attempt < attempts) continue;
        if (err instanceof CoapTimeoutError) throw new Error(`CoAP block ${num}: no answer after ${attempts} tries of ${timeoutMs} ms`);
        throw err;
      }
      return toReply(response);
    }
  }

  async function fetchSmall(uri: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    const peer = openPeer(await resolveCoapUri(uri), transmission);
    try {
      let chunks: Buffer[] = [];
      let offset = 0;
      let szx = preferredSzx;
      let etag: string | undefined;
      let restarted = false;
      for (;;) {
        const reply = await getBlock(peer, offset / blockSize(szx), szx, offset === 0, signal);
        refuseUnlessContent(reply);
        if (offset > 0 && reply.etag !== etag) {
          if (restarted) throw new Error('CoAP resource changed twice while it was being fetched');
          restarted = true;
          chunks = [];
          offset = 0;
          continue;
        }
        etag = reply.etag;
        const block = checkBlock(reply, offset, szx);
        szx = block.szx;
        if (reply.size2 !== undefined && reply.size2 > maxBytes) throw tooLarge(reply.size2, maxBytes);
        if (offset + reply.payload.length > maxBytes) throw tooLarge(offset + reply.payload.length, maxBytes);
        chunks.push(reply.payload);
        offset += reply.payload.length;
        if (!block.more) return Buffer.concat(chunks);
      }
    } finally {
      peer.close();
    }
  }

  async function fetchResumable(uri: string, file: string, opts: FetchOptions): Promise<ResumableFetchResult> {
    const target = await resolveCoapUri(uri);
    const sidecar = `${file}.etag`;
    let validator = opts.etag ?? readText(sidecar);
    let szx = preferredSzx;
    const have = sizeOf(file);
    // Whole blocks only: a block cut short by the drop is fetched again in full.
    let offset = have - (have % blockSize(szx));
    if (offset !== have) truncateSync(file, offset);
    if (offset === 0) validator = undefined;

    const peer = openPeer(target, transmission);
    const out = await open(file, 'a', 0o600);
    let fetched = 0;
    let etag: string | undefined;
    let rewound = false;
    let restarted = false;
    try {
      for (;;) {
        const reply = await getBlock(peer, offset / blockSize(szx), szx, fetched === 0, opts.signal);
        if (reply.code === '4.02' && offset > 0 && fetched === 0 && !rewound) {
          // Resumed exactly at the end: the last run stored every block but did not finish.
          // Fetch the last block again to learn that it is the last (M=0) and its ETag.
          rewound = true;
          offset -= blockSize(szx);
          await out.truncate(offset);
          continue;
        }
        refuseUnlessContent(reply);
        if (validator !== undefined && reply.etag !== validator) {
          if (restarted) throw new Error('CoAP image changed twice during the download');
          // Another image behind the same URI: the bytes on disk belong to the old one.
          restarted = true;
          validator = undefined;
          offset = 0;
          fetched = 0;
          await out.truncate(0);
          continue;
        }
        if (validator === undefined && reply.etag !== undefined) {
          validator = reply.etag;
          writeFileSync(sidecar, validator, { mode: 0o600 });
        }
        etag = reply.etag;
        const block = checkBlock(reply, offset, szx);
        szx = block.szx;
        if (reply.size2 !== undefined && reply.size2 > opts.maxBytes) throw tooLarge(reply.size2, opts.maxBytes);
        if (offset + reply.payload.length > opts.maxBytes) throw tooLarge(offset + reply.payload.length, opts.maxBytes);
        // Each block is in the file before the next is asked for: a drop keeps all of them.
        await out.write(reply.payload);
        offset += reply.payload.length;
        fetched += reply.payload.length;
        await opts.pace?.(reply.payload.length);
        if (!block.more) break;
      }
      await out.sync();
    } finally {
      await out.close();
      peer.close();
    }
    rmSync(sidecar, { force: true });
    return { size: offset, fetched, etag };
  }

  return { fetchSmall, fetchResumable };
}

/** Pull over CoAP with the default timing. */
export const coapSource: PackageSource = createCoapSource();

/** A download's own UDP socket and client, to the one server its URI names. */
interface BlockPeer {
  client: CoapClient;
  target: CoapTarget;
  close(): void;
}

function openPeer(target: CoapTarget, transmission: CoapTransmission): BlockPeer {
  const socket = createSocket(target.family === 6 ? 'udp6' : 'udp4');
  const client = new CoapClient(socket, transmission);
  // A socket error ends the download's requests (the updater retries); it must not crash the agent.
  socket.on('error', () => client.close());
  return {
    client,
    target,
    close: () => {
      client.close();
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

function toReply(response: CoapResponse): BlockReply {
  const block2 = response.option('Block2');
  const etag = response.option('ETag');
  const size2 = response.option('Size2');
  return {
    code: response.code,
    payload: response.payload,
    block: block2 ? decodeBlock(block2) : undefined,
    etag: etag ? etag.toString('hex') : undefined,
    size2: size2 ? decodeUint(size2) : undefined,
  };
}

/** 4.xx: the resource is not there or not for us (no point retrying); 5.xx: try again later. */
function refuseUnlessContent(reply: BlockReply): void {
  if (reply.code === '2.05') return;
  const diagnostic = reply.payload.length > 0 && reply.payload.length < 200 ? `: ${reply.payload.toString('utf8')}` : '';
  const message = `CoAP GET answered ${reply.code}${diagnostic}`;
  if (reply.code.startsWith('4.')) throw new DownloadRefused(message, codeNumber(reply.code));
  throw new Error(message);
}

/** The block must be the one asked for; the server may pick a smaller size (RFC 7959 §2.4). */
function checkBlock(reply: BlockReply, offset: number, szx: number): BlockOption {
  if (!reply.block) {
    // No Block2: the whole resource in one response, which is only an answer to block 0.
    if (offset !== 0) throw new Error(`CoAP server ignored the Block2 option for the block at byte ${offset}`);
    return { num: 0, more: false, szx };
  }
  const size = blockSize(reply.block.szx);
  if (reply.block.szx > szx) throw new Error(`CoAP server answered with larger blocks (${size} bytes) than asked for`);
  if (reply.block.num * size !== offset) throw new Error(`CoAP server sent the block at byte ${reply.block.num * size}, not ${offset}`);
  if (reply.block.more && reply.payload.length !== size) throw new Error(`CoAP block ${reply.block.num} has ${reply.payload.length} bytes, not ${size}`);
  return reply.block;
}

function tooLarge(bytes: number, maxBytes: number): DownloadRefused {
  return new DownloadRefused(`image of ${bytes} bytes exceeds ${maxBytes}`, 413);
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
