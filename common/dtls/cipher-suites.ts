import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DtlsError } from './errors.js';
import { prf } from './prf.js';
import { sequenceBytes } from './record.js';

/**
 * The two PSK cipher suites and their record protection. No cipher is written here: AES-CCM,
 * AES-CBC and HMAC-SHA256 are node:crypto's.
 */
export const CipherSuite = {
  /** RFC 6655; mandatory for LwM2M 1.x PSK. */
  TLS_PSK_WITH_AES_128_CCM_8: 0xc0a8,
  /** RFC 5487. */
  TLS_PSK_WITH_AES_128_CBC_SHA256: 0x00ae,
} as const;
export type CipherSuiteName = keyof typeof CipherSuite;

/** RFC 5746 signalling cipher suite value. */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export const SUPPORTED_SUITES: readonly number[] = [CipherSuite.TLS_PSK_WITH_AES_128_CCM_8, CipherSuite.TLS_PSK_WITH_AES_128_CBC_SHA256];

export function suiteName(code: number): string {
  return (Object.entries(CipherSuite).find(([, c]) => c === code)?.[0]) ?? `0x${code.toString(16).padStart(4, '0')}`;
}

export function suiteCodes(names: readonly (CipherSuiteName | number)[] | undefined): number[] {
  if (!names || names.length === 0) return [...SUPPORTED_SUITES];
  return names.map((n) => {
    const code = typeof n === 'number' ? n : CipherSuite[n];
    if (code === undefined || !SUPPORTED_SUITES.includes(code)) throw new Error(`unsupported cipher suite ${String(n)}`);
    return code;
  });
}

/** Protection of one direction of one epoch. Epoch 0 uses NULL_PROTECTION. */
export interface RecordProtection {
  /** Largest number of bytes protection adds to a plaintext (for path-MTU arithmetic). */
  readonly overhead: number;
  encrypt(type: number, version: number, epoch: number, seq: number, plaintext: Buffer): Buffer;
  /** Throws DtlsError('bad_record_mac') when the record does not authenticate. */
  decrypt(type: number, version: number, epoch: number, seq: number, fragment: Buffer): Buffer;
}

export const NULL_PROTECTION: RecordProtection = {
  overhead: 0,
  encrypt: (_t, _v, _e, _s, plaintext) => plaintext,
  decrypt: (_t, _v, _e, _s, fragment) => fragment,
};

interface SuiteParams {
  macKeyLength: number;
  keyLength: number;
  fixedIvLength: number;
}

const PARAMS: Record<number, SuiteParams> = {
  [CipherSuite.TLS_PSK_WITH_AES_128_CCM_8]: { macKeyLength: 0, keyLength: 16, fixedIvLength: 4 },
  [CipherSuite.TLS_PSK_WITH_AES_128_CBC_SHA256]: { macKeyLength: 32, keyLength: 16, fixedIvLength: 0 },
};

function additionalData(seqNum: Buffer, type: number, version: number, length: number): Buffer {
  const ad = Buffer.alloc(13);
  seqNum.copy(ad, 0);
  ad[8] = type;
  ad.writeUInt16BE(version, 9);
  ad.writeUInt16BE(length, 11);
  return ad;
}

/** AES-128-CCM with an 8-byte tag; nonce = 4-byte implicit salt + 8-byte explicit (epoch + seq), RFC 6655 §3. */
class Ccm8Protection implements RecordProtection {
  readonly overhead = 8 + 8;
  constructor(
    private readonly key: Buffer,
    private readonly salt: Buffer,
  ) {}

  encrypt(type: number, version: number, epoch: number, seq: number, plaintext: Buffer): Buffer {
    const explicit = sequenceBytes(epoch, seq);
    const nonce = Buffer.concat([this.salt, explicit]);
    const cipher = createCipheriv('aes-128-ccm', this.key, nonce, { authTagLength: 8 });
    cipher.setAAD(additionalData(explicit, type, version, plaintext.length), { plaintextLength: plaintext.length });
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([explicit, ct, cipher.getAuthTag()]);
  }

  decrypt(type: number, version: number, epoch: number, seq: number, fragment: Buffer): Buffer {
    if (fragment.length < this.overhead) throw new DtlsError('bad_record_mac', 'CCM record too short');
    const explicit = fragment.subarray(0, 8);
    const ct = fragment.subarray(8, fragment.length - 8);
    const tag = fragment.subarray(fragment.length - 8);
    const nonce = Buffer.concat([this.salt, explicit]);
    try {
      const decipher = createDecipheriv('aes-128-ccm', this.key, nonce, { authTagLength: 8 });
      decipher.setAuthTag(tag);
      // The AAD carries the record's own epoch and sequence number, not the explicit nonce's:
      // a record whose header was altered does not authenticate.
      decipher.setAAD(additionalData(sequenceBytes(epoch, seq), type, version, ct.length), { plaintextLength: ct.length });
      const pt = decipher.update(ct);
      decipher.final();
      return pt;
    } catch {
      throw new DtlsError('bad_record_mac', 'CCM record does not authenticate');
    }
  }
}

const MAC_LENGTH = 32;
const BLOCK = 16;

/**
 * AES-128-CBC with HMAC-SHA256, MAC-then-encrypt, explicit per-record IV (RFC 5246 §6.2.3.2).
 *
 * Decryption checks padding and MAC without branching on the padding's validity: a bad padding
 * is treated as zero-length padding and the MAC is computed anyway, the padding bytes are all
 * compared (no early exit), and a dummy HMAC over the bytes the padding removed keeps the
 * number of hashed bytes the same whatever the padding length (a partial Lucky13 mitigation:
 * the work is equalised at the level of node:crypto calls, not of SHA-256 compression blocks).
 * Records that fail are dropped silently (DTLS sends no alert for them), which removes the
 * padding oracle an attacker would otherwise read from alerts.
 */
class CbcSha256Protection implements RecordProtection {
  readonly overhead = BLOCK /* IV */ + MAC_LENGTH + BLOCK /* padding, at most one block */;
  constructor(
    private readonly macKey: Buffer,
    private readonly key: Buffer,
  ) {}

  private mac(epoch: number, seq: number, type: number, version: number, content: Buffer): Buffer {
    return createHmac('sha256', this.macKey).update(additionalData(sequenceBytes(epoch, seq), type, version, content.length)).update(content).digest();
  }

  encrypt(type: number, version: number, epoch: number, seq: number, plaintext: Buffer): Buffer {
    const mac = this.mac(epoch, seq, type, version, plaintext);
    const dataLength = plaintext.length + MAC_LENGTH;
    const padLength = (BLOCK - ((dataLength + 1) % BLOCK)) % BLOCK;
    const padding = Buffer.alloc(padLength + 1, padLength);
    const iv = randomBytes(BLOCK);
    const cipher = createCipheriv('aes-128-cbc', this.key, iv).setAutoPadding(false);
    return Buffer.concat([iv, cipher.update(plaintext), cipher.update(mac), cipher.update(padding), cipher.final()]);
  }

  decrypt(type: number, version: number, epoch: number, seq: number, fragment: Buffer): Buffer {
    const minCipher = Math.ceil((MAC_LENGTH + 1) / BLOCK) * BLOCK;
    if (fragment.length < BLOCK + minCipher || (fragment.length - BLOCK) % BLOCK !== 0) throw new DtlsError('bad_record_mac', 'CBC record has a bad length');
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.key, fragment.subarray(0, BLOCK)).setAutoPadding(false);
      plain = Buffer.concat([decipher.update(fragment.subarray(BLOCK)), decipher.final()]);
    } catch {
      throw new DtlsError('bad_record_mac', 'CBC record does not decrypt');
    }
    const n = plain.length;
    const padLength = plain[n - 1]!;
    // Padding check over the largest possible padding, without early exit.
    let bad = padLength + 1 + MAC_LENGTH > n ? 1 : 0;
    const span = Math.min(256, n);
    for (let i = 1; i <= span; i++) {
      const inPadding = i <= padLength + 1 ? 1 : 0;
      bad |= inPadding & (plain[n - i]! !== padLength ? 1 : 0);
    }
    const removed = bad ? 1 : padLength + 1;
    const contentLength = n - removed - MAC_LENGTH;
    const content = plain.subarray(0, contentLength);
    const expected = this.mac(epoch, seq, type, version, content);
    // Equalise the hashed length: hash the bytes the padding took away.
    createHmac('sha256', this.macKey).update(plain.subarray(0, removed - 1)).digest();
    const macOk = timingSafeEqual(expected, plain.subarray(contentLength, contentLength + MAC_LENGTH));
    if (bad || !macOk) throw new DtlsError('bad_record_mac', 'CBC record does not authenticate');
    return Buffer.from(content);
  }
}

export interface KeyBlock {
  client: RecordProtection;
  server: RecordProtection;
}

/** RFC 5246 §6.3 key expansion, then the protections of both directions. */
export function deriveProtection(suite: number, master: Buffer, clientRandom: Buffer, serverRandom: Buffer): KeyBlock {
  const p = PARAMS[suite];
  if (!p) throw new DtlsError('internal_error', `no parameters for suite ${suite}`);
  const total = 2 * (p.macKeyLength + p.keyLength + p.fixedIvLength);
  const kb = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), total);
  let o = 0;
  const take = (n: number) => kb.subarray(o, (o += n));
  const clientMac = take(p.macKeyLength);
  const serverMac = take(p.macKeyLength);
  const clientKey = take(p.keyLength);
  const serverKey = take(p.keyLength);
  const clientIv = take(p.fixedIvLength);
  const serverIv = take(p.fixedIvLength);
  if (suite === CipherSuite.TLS_PSK_WITH_AES_128_CCM_8) {
    return { client: new Ccm8Protection(clientKey, clientIv), server: new Ccm8Protection(serverKey, serverIv) };
  }
  return { client: new CbcSha256Protection(clientMac, clientKey), server: new CbcSha256Protection(serverMac, serverKey) };
}
