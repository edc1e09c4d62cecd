import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';

export const SEALING_KEY_FILE = 'psk-sealing.key';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Format byte of a sealed value, so another scheme can come later without guessing. */
const VERSION = 1;

/**
 * Secrets the gateway must be able to read back (a DTLS server needs the PSK itself, so a hash
 * will not do), sealed with AES-256-GCM under a key kept in the data directory (keys/, 0600),
 * made on first use. A copy of the database alone does not reveal them. The associated data
 * binds each sealed value to what it belongs to: a value copied to another row does not open.
 */
export class SealingKey {
  private constructor(private readonly key: Buffer) {}

  static loadOrCreate(dataDir: string, log: Logger): SealingKey {
    const dir = join(dataDir, 'keys');
    const file = join(dir, SEALING_KEY_FILE);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(file)) {
      writeFileSync(file, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
      log.info({ file }, 'generated the key that seals device pre-shared keys at rest');
    }
    chmodSync(file, 0o600);
    const key = readFileSync(file);
    if (key.length !== KEY_BYTES) throw new Error(`${file} must hold ${KEY_BYTES} bytes, it has ${key.length}`);
    return new SealingKey(key);
  }

  /** For tests. */
  static ephemeral(): SealingKey {
    return new SealingKey(randomBytes(KEY_BYTES));
  }

  /** version ‖ nonce ‖ ciphertext ‖ tag. */
  seal(plain: Buffer, context: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    return Buffer.concat([Buffer.from([VERSION]), nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }

  /** Throws when the value was not sealed by this key for this context. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new Error('not a sealed value');
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  }
}
