import { DtlsError } from './errors.js';

/**
 * A bounds-checked cursor over a buffer: every read past the end throws a decode_error
 * DtlsError, so codecs never index outside their input.
 */
export class Reader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): void {
    if (n > this.remaining) throw new DtlsError('decode_error', `truncated: need ${n} bytes, have ${this.remaining}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.offset, 3);
    this.offset += 3;
    return v;
  }

  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.offset, 6);
    this.offset += 6;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A vector with a 1-, 2- or 3-byte length prefix. */
  vector(lengthBytes: 1 | 2 | 3, min = 0, max = Infinity): Buffer {
    const n = lengthBytes === 1 ? this.u8() : lengthBytes === 2 ? this.u16() : this.u24();
    if (n < min || n > max) throw new DtlsError('decode_error', `vector length ${n} outside ${min}..${max}`);
    return this.bytes(n);
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  end(): void {
    if (this.remaining !== 0) throw new DtlsError('decode_error', `${this.remaining} trailing bytes`);
  }
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}

export function vec(lengthBytes: 1 | 2 | 3, data: Buffer): Buffer {
  const len = Buffer.alloc(lengthBytes);
  len.writeUIntBE(data.length, 0, lengthBytes);
  return Buffer.concat([len, data]);
}
