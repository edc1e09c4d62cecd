import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets. They are random 256-bit values, so a plain SHA-256 is a sound way to store
 * them (nothing to brute-force, unlike passwords) and costs microseconds: 10,000 devices
 * reconnecting at once do not queue behind a slow KDF.
 */
export const SECRET_BYTES = 32;

export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares in constant time so response timing does not reveal how much of a hash matched. */
export function verifySecret(secret: string, expectedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(expectedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
