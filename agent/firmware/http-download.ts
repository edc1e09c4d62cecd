import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { DownloadRefused, type FetchOptions, type PackageSource, type ResumableFetchResult } from './package-source.js';

function existingSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Fetches `url` into `file`, continuing a partial file with an RFC 7233 Range request. With
 * `etag`, If-Range makes the server send the whole image again if it changed meanwhile, so
 * stale bytes are never stitched to new ones.
 */
export async function downloadWithResume(url: string, file: string, opts: FetchOptions): Promise<ResumableFetchResult> {
  const have = existingSize(file);
  const headers: Record<string, string> = {};
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    if (opts.etag) headers['if-range'] = opts.etag;
  }
  const response = await fetch(url, { headers, signal: opts.signal ?? null });
  const etag = response.headers.get('etag') ?? undefined;
  if (response.status === 416 && have > 0) {
    await response.body?.cancel();
    return { size: have, fetched: 0, etag: opts.etag };
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw new DownloadRefused(`GET ${url}: HTTP ${response.status}`, response.status);
  }
  const append = response.status === 206 && have > 0;
  if (append && !response.headers.get('content-range')?.startsWith(`bytes ${have}-`)) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: 206 for the wrong range (${response.headers.get('content-range')})`);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = (append ? have : 0) + (Number.isFinite(length) ? length : 0);
  if (total > opts.maxBytes) {
    await response.body?.cancel();
    throw new DownloadRefused(`image of ${total} bytes exceeds ${opts.maxBytes}`, 413);
  }
  if (!response.body) throw new Error(`GET ${url}: no body`);
  let fetched = 0;
  // Each chunk is on disk before the next is read: whatever arrived before a drop is kept for the resume.
  const out = await open(file, append ? 'a' : 'w', 0o600);
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      // A paced (slow) link lands its bytes piece by piece, as they would arrive over it.
      const piece = opts.pace && opts.pacePieceBytes ? opts.pacePieceBytes : chunk.length;
      for (let i = 0; i < chunk.length; i += piece) {
        const part = chunk.subarray(i, i + piece);
        await out.write(part);
        fetched += part.length;
        await opts.pace?.(part.length);
      }
    }
    await out.sync();
  } finally {
    await out.close();
  }
  return { size: existingSize(file), fetched, etag };
}

/** A small resource (the manifest) in one piece. */
export async function fetchSmall(url: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  const response = await fetch(url, { signal: signal ?? null });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new DownloadRefused(`GET ${url}: HTTP ${response.status}`, response.status);
  }
  const body = new Uint8Array(await response.arrayBuffer());
  if (body.length > maxBytes) throw new DownloadRefused(`GET ${url}: ${body.length} bytes exceed ${maxBytes}`, 413);
  return body;
}

/** Pull over HTTP(S). */
export const httpSource: PackageSource = { fetchSmall, fetchResumable: downloadWithResume };
