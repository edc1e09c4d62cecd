import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import parseRange from 'range-parser';
import { signManifest, trustAnchorOf, type FirmwareManifest } from '../../protocol/firmware/index.js';

export interface PublishedImage {
  image: Buffer;
  /** The manifest file's text; undefined publishes no manifest (an unsigned image). */
  manifest?: string;
}

export interface ImageOptions {
  version: string;
  models?: string[];
  allowDowngrade?: boolean;
  /** Sign with another key than the trust anchor's. */
  signWith?: KeyObject;
  /** Describe other bytes than the ones served (tampering, truncation). */
  describe?: Buffer;
}

/**
 * A plain HTTP file server with single-range support, standing in for any firmware host a
 * device may be pointed at; counts what it sends and can cut a download short once.
 */
export class FirmwareServer {
  readonly key = generateKeyPairSync('ed25519').privateKey;
  readonly trustAnchor = trustAnchorOf(this.key);
  readonly files = new Map<string, PublishedImage>();
  readonly requests: { path: string; range: string | undefined; status: number; bytes: number }[] = [];
  /** Cut the next image response after this many body bytes. */
  dropNextAfter: number | undefined;
  /** Hold the next image response open after this many body bytes: the download hangs mid-way. */
  stallNextAfter: number | undefined;
  private server!: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const isManifest = path.endsWith('.manifest');
      const file = this.files.get(isManifest ? path.slice(0, -'.manifest'.length) : path);
      const body = isManifest ? (file?.manifest !== undefined ? Buffer.from(file.manifest) : undefined) : file?.image;
      const record = { path, range: req.headers.range, status: 200, bytes: 0 };
      this.requests.push(record);
      if (!body) {
        record.status = 404;
        res.writeHead(404).end();
        return;
      }
      let start = 0;
      let end = body.length - 1;
      const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
      if (req.headers.range && !isManifest && (!req.headers['if-range'] || req.headers['if-range'] === etag)) {
        const ranges = parseRange(body.length, req.headers.range);
        if (ranges === -1) {
          record.status = 416;
          res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
          return;
        }
        if (ranges !== -2 && ranges.length === 1) {
          start = ranges[0]!.start;
          end = ranges[0]!.end;
          record.status = 206;
        }
      }
      const headers: Record<string, string | number> = { 'content-length': end - start + 1, etag, 'accept-ranges': 'bytes' };
      if (record.status === 206) headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
      res.writeHead(record.status, headers);
      const slice = body.subarray(start, end + 1);
      if (!isManifest && this.dropNextAfter !== undefined) {
        const cut = this.dropNextAfter;
        this.dropNextAfter = undefined;
        record.bytes = Math.min(cut, slice.length);
        res.write(slice.subarray(0, cut), () => res.destroy());
        return;
      }
      if (!isManifest && this.stallNextAfter !== undefined) {
        const cut = this.stallNextAfter;
        this.stallNextAfter = undefined;
        record.bytes = Math.min(cut, slice.length);
        res.write(slice.subarray(0, cut));
        return;
      }
      record.bytes = slice.length;
      res.end(slice);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Publishes an image with a manifest signed by this server's key (unless told otherwise); returns its URI. */
  publish(path: string, image: Buffer, opts: ImageOptions | 'unsigned'): string {
    if (opts === 'unsigned') {
      this.files.set(path, { image });
      return this.baseUrl + path;
    }
    this.files.set(path, { image, manifest: this.signedManifest(image, opts) });
    return this.baseUrl + path;
  }

  /** The manifest text for an image, signed by this server's key unless told otherwise. */
  signedManifest(image: Buffer, opts: ImageOptions): string {
    const described = opts.describe ?? image;
    const manifest: FirmwareManifest = {
      formatVersion: 1,
      vendor: 'test',
      models: opts.models ?? ['EDM-T'],
      name: 'test-fw',
      version: opts.version,
      size: described.length,
      sha256: createHash('sha256').update(described).digest('hex'),
      ...(opts.allowDowngrade ? { allowDowngrade: true } : {}),
      issuedAt: new Date().toISOString(),
    };
    return JSON.stringify(signManifest(manifest, opts.signWith ?? this.key));
  }

  bytesServed(path: string): number {
    return this.requests.filter((r) => r.path === path).reduce((n, r) => n + r.bytes, 0);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
