import { generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { trustAnchorOf } from '../../protocol/firmware/index.js';

export const OPERATOR_KEY_FILE = 'operator-ed25519.pem';

export interface OperatorKey {
  privateKey: KeyObject;
  /** SPKI DER of the public key, provisioned to devices at bootstrap. */
  trustAnchor: Uint8Array;
}

/**
 * The operator's firmware signing key: Ed25519, generated on first start and kept in the data
 * directory (0600). Devices trust what it signs, so it never leaves that file or reaches a log.
 */
export function loadOrCreateOperatorKey(dataDir: string, log: Logger): OperatorKey {
  const dir = join(dataDir, 'keys');
  const file = join(dir, OPERATOR_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let privateKey: KeyObject;
  if (existsSync(file)) {
    privateKey = createPrivateKey(readFileSync(file, 'utf8'));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    log.info({ file }, 'generated the operator firmware signing key');
  }
  chmodSync(file, 0o600);
  return { privateKey, trustAnchor: trustAnchorOf(privateKey) };
}
