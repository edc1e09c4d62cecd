import { createHash } from 'node:crypto';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respondError } from '../../common/coap/coap-response.js';
import { respondBlock } from '../../gateway/coap/block2-response.js';
import { blockSize, ContentFormat, decodeBlock, MAX_SZX } from '../../protocol/coap/index.js';
import { MANIFEST_SUFFIX } from '../../protocol/firmware/index.js';
import type { FirmwareServer } from './firmware-server.js';
import { testLog } from './harness.js';

/** One block of a published file read to answer a request. */
export interface CoapBlockRead {
  path: string;
  offset: number;
  bytes: number;
}

/**
 * What a FirmwareServer publishes, also at `coap://127.0.0.1:<port>/fw/<path>`, served by the
 * gateway's own CoAP socket (CoapNode) and Block2 responder (ETag, Size2, blocks of up to 1024 bytes), so
 * the agent's pull meets the server code it meets in the field. Every block read is recorded,
 * and `beforeBlock` lets a test act when a given block of an image is asked for (cut the link,
 * replace the image, cut the device's power) before it is answered.
 */
export class CoapFirmwareServer {
  readonly reads: CoapBlockRead[] = [];
  /** Awaited before a block of an image (not a manifest) is read. */
  beforeBlock: ((path: string, offset: number) => void | Promise<void>) | undefined;

  private constructor(
    private readonly node: CoapNode,
    private readonly files: FirmwareServer,
  ) {}

  static async start(files: FirmwareServer): Promise<CoapFirmwareServer> {
    const node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog });
    const server = new CoapFirmwareServer(node, files);
    node.route('fw', async (req, res) => {
      if (req.method !== 'GET') return respondError(res, '4.05', 'firmware is fetched with GET');
      const path = `/${req.path.slice(1).join('/')}`;
      const isManifest = path.endsWith(MANIFEST_SUFFIX);
      if (!isManifest) await server.beforeBlock?.(path, offsetAsked(req.option('Block2')));
      // Looked up after the hook: a test may have replaced the image meanwhile.
      const file = files.files.get(isManifest ? path.slice(0, -MANIFEST_SUFFIX.length) : path);
      const body = isManifest ? (file?.manifest !== undefined ? Buffer.from(file.manifest) : undefined) : file?.image;
      if (!body) return respondError(res, '4.04', 'no such file');
      await respondBlock(req, res, {
        size: body.length,
        etag: createHash('sha256').update(body).digest().subarray(0, 8),
        contentFormat: isManifest ? ContentFormat.JSON : ContentFormat.OCTET_STREAM,
        read: async (offset, length) => {
          const payload = body.subarray(offset, offset + length);
          server.reads.push({ path, offset, bytes: payload.length });
          return payload;
        },
      });
    });
    return server;
  }

  get port(): number {
    return this.node.port;
  }

  /** The coap:// URI of a path published on the FirmwareServer (`/img-1.bin`). */
  uri(path: string, port = this.port): string {
    return `coap://127.0.0.1:${port}/fw${path}`;
  }

  /** Publishes on the FirmwareServer and returns the coap:// URI. */
  publish(path: string, image: Buffer, opts: Parameters<FirmwareServer['publish']>[2]): string {
    this.files.publish(path, image, opts);
    return this.uri(path);
  }

  /** Payload bytes read for `path` (an image, or the image's `.manifest`). */
  bytesServed(path: string): number {
    return this.reads.filter((r) => r.path === path).reduce((n, r) => n + r.bytes, 0);
  }

  /** Offsets of `path` read, in order. */
  offsetsRead(path: string): number[] {
    return this.reads.filter((r) => r.path === path).map((r) => r.offset);
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

/** Where the block a request asks for starts (0 without a usable Block2 option). */
function offsetAsked(option: Buffer | undefined): number {
  const block = option && decodeBlock(option);
  return block && block.szx <= MAX_SZX ? block.num * blockSize(block.szx) : 0;
}
