import { open, type FileHandle } from 'node:fs/promises';
import { LwM2mPath, ResultCode, type Operation, type OperationResult } from '../../protocol/model/index.js';

const PACKAGE = LwM2mPath.parse('/5/0/0');

export class PushFailed extends Error {
  constructor(
    message: string,
    readonly code?: ResultCode,
  ) {
    super(message);
    this.name = 'PushFailed';
  }
}

export interface PushOptions {
  send(operation: Operation): Promise<OperationResult>;
  /** The package header (signed manifest) that goes in front of the image. */
  header: Uint8Array;
  imagePath: string;
  imageSize: number;
  /** A power of two, large enough for the header to fit into block 0. */
  blockSize: number;
  /** Image bytes put on the wire (re-sent ones too), for the transfer's byte counter. */
  onSent(imageBytes: number): void;
  signal?: AbortSignal;
}

/**
 * Pushes a firmware package into /5/0/0 as a block-wise write (RFC 7959 Block1 semantics over
 * whatever link the device uses). Block 0 is always sent first: a device that already holds
 * part of the same package answers with the offset it needs next, and the push resumes there.
 */
export async function pushPackage(o: PushOptions): Promise<void> {
  const total = o.header.length + o.imageSize;
  if (o.header.length > o.blockSize) throw new PushFailed(`the package header (${o.header.length} bytes) does not fit a ${o.blockSize}-byte block`);
  const image = await open(o.imagePath, 'r');
  try {
    let offset = 0;
    let stalls = 0;
    for (;;) {
      if (o.signal?.aborted) throw new PushFailed('push aborted');
      const num = Math.floor(offset / o.blockSize);
      const start = num * o.blockSize;
      const end = Math.min(start + o.blockSize, total);
      const chunk = await readPackageRange(o.header, image, start, end);
      const more = end < total;
      // Counted as sent before the answer: a block whose answer is lost with the link may well have arrived.
      o.onSent(Math.max(0, end - Math.max(start, o.header.length)));
      const result = await o.send({ kind: 'write', path: PACKAGE, mode: 'replace', content: [{ path: PACKAGE, type: 'opaque', value: chunk }], block: { num, size: o.blockSize, more } });
      if (result.code === ResultCode.CHANGED && !more) return;
      const next = result.nextOffset;
      if ((result.code === ResultCode.CONTINUE || result.code === ResultCode.REQUEST_ENTITY_INCOMPLETE) && next !== undefined && next <= total) {
        // A device asking for the same offset again and again is not making progress.
        stalls = next <= offset ? stalls + 1 : 0;
        if (stalls > 3) throw new PushFailed(`the device keeps asking for byte ${next}`, result.code);
        offset = next;
        continue;
      }
      throw new PushFailed(`write /5/0/0 block ${num}: ${result.code} ${result.message ?? ''}`.trim(), result.code);
    }
  } finally {
    await image.close();
  }
}

/** Bytes [start, end) of header + image. */
async function readPackageRange(header: Uint8Array, image: FileHandle, start: number, end: number): Promise<Uint8Array> {
  const out = Buffer.alloc(end - start);
  let filled = 0;
  if (start < header.length) {
    const h = Buffer.from(header.buffer, header.byteOffset, header.byteLength).subarray(start, Math.min(end, header.length));
    h.copy(out, 0);
    filled = h.length;
  }
  const imageStart = Math.max(0, start - header.length);
  const want = end - start - filled;
  let read = 0;
  while (read < want) {
    const { bytesRead } = await image.read(out, filled + read, want - read, imageStart + read);
    if (bytesRead === 0) throw new PushFailed('the stored image is shorter than recorded');
    read += bytesRead;
  }
  return out;
}
