import { MAX_MANIFEST_BYTES } from './manifest.js';

/**
 * The Package a gateway pushes into /5/0/0: the signed manifest travels in front of the image,
 * so a pushed image is verified exactly like a pulled one.
 *
 *   "EDMP" | format (1 byte) | manifest length (uint32 BE) | manifest (JSON) | image
 *
 * The header must fit into the first block of a block-wise write.
 */
const MAGIC = Buffer.from('EDMP', 'ascii');
const FORMAT = 1;
const FIXED_HEADER_BYTES = MAGIC.length + 1 + 4;

export class PackageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackageFormatError';
  }
}

export function encodePackageHeader(manifest: Uint8Array): Buffer {
  if (manifest.length > MAX_MANIFEST_BYTES) throw new PackageFormatError(`manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
  const header = Buffer.alloc(FIXED_HEADER_BYTES + manifest.length);
  MAGIC.copy(header, 0);
  header.writeUInt8(FORMAT, MAGIC.length);
  header.writeUInt32BE(manifest.length, MAGIC.length + 1);
  Buffer.from(manifest).copy(header, FIXED_HEADER_BYTES);
  return header;
}

export interface PackageHeader {
  manifest: Uint8Array;
  /** Where the image starts in the package. */
  headerBytes: number;
}

/** Reads the header from the start of a package; throws PackageFormatError when it is not one. */
export function parsePackageHeader(bytes: Uint8Array): PackageHeader {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < FIXED_HEADER_BYTES || !b.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new PackageFormatError('not an edgedm firmware package (no EDMP header with a signed manifest)');
  }
  const format = b.readUInt8(MAGIC.length);
  if (format !== FORMAT) throw new PackageFormatError(`package format ${format} is not supported`);
  const length = b.readUInt32BE(MAGIC.length + 1);
  if (length > MAX_MANIFEST_BYTES) throw new PackageFormatError(`manifest of ${length} bytes exceeds ${MAX_MANIFEST_BYTES}`);
  if (b.length < FIXED_HEADER_BYTES + length) throw new PackageFormatError('the package header does not fit in the first block');
  return { manifest: new Uint8Array(b.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + length)), headerBytes: FIXED_HEADER_BYTES + length };
}
