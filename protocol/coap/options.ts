/**
 * CoAP option values both ends of a block-wise transfer agree on: the Block1/Block2 option of
 * RFC 7959 §2.2 and the uint encoding of RFC 7252 §3.2 (Size2, Content-Format, Max-Age).
 */

/** The largest block over UDP: SZX 6, 1024 bytes (SZX 7 is reserved, BERT is TCP only). */
export const MAX_BLOCK_SIZE = 1024;
export const MAX_SZX = 6;
/** 20 bits of block number: a Block option is at most 3 bytes. */
export const MAX_BLOCK_NUM = 0xfffff;

export interface BlockOption {
  num: number;
  more: boolean;
  /** Size exponent: the block holds 2^(szx+4) bytes. */
  szx: number;
}

export function blockSize(szx: number): number {
  return 16 << szx;
}

/** The SZX of a block size 16..1024 (a power of two). */
export function szxOf(size: number): number {
  const szx = Math.log2(size) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > MAX_SZX) throw new RangeError(`block size must be a power of two from 16 to ${MAX_BLOCK_SIZE}, got ${size}`);
  return szx;
}

/** Decodes a Block1/Block2 option value; undefined when it is not one (longer than 3 bytes). */
export function decodeBlock(value: Uint8Array): BlockOption | undefined {
  if (value.length > 3) return undefined;
  const n = decodeUint(value);
  return { num: n >>> 4, more: (n & 0x08) !== 0, szx: n & 0x07 };
}

export function encodeBlock(block: BlockOption): Buffer {
  if (!Number.isInteger(block.num) || block.num < 0 || block.num > MAX_BLOCK_NUM) throw new RangeError(`block number ${block.num} out of range`);
  if (!Number.isInteger(block.szx) || block.szx < 0 || block.szx > 7) throw new RangeError(`SZX ${block.szx} out of range`);
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}

/** RFC 7252 §3.2 uint: big-endian, shortest form (zero is the empty value). */
export function encodeUint(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${n} is not a 32-bit unsigned integer`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

export function decodeUint(value: Uint8Array): number {
  let n = 0;
  for (const byte of value) n = n * 256 + byte;
  return n;
}

/** Content-Formats the firmware transfer uses (RFC 7252 §12.3). */
export const ContentFormat = { OCTET_STREAM: 42, JSON: 50 } as const;

/** A response code `c.dd` as the number class*100+detail (4.04 → 404), as HTTP-minded callers count. */
export function codeNumber(code: string): number {
  const m = /^(\d)\.(\d\d)$/.exec(code);
  return m ? Number(m[1]) * 100 + Number(m[2]) : NaN;
}
