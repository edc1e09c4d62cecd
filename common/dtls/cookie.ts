import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1): an HMAC of the client's address and
 * the ClientHello parameters the client must repeat, keyed by a secret that rotates. Cookies made
 * with the current or the previous secret are accepted, so a cookie stays good for at least one
 * rotation period. The server keeps no state for a client until its cookie verifies.
 */
export const COOKIE_LENGTH = 32;

export interface CookieInput {
  address: string;
  port: number;
  /** client_version, random, session_id, cipher_suites and compression_methods, as encoded. */
  params: Buffer;
}

export class CookieJar {
  private current = randomBytes(32);
  private previous: Buffer | undefined;
  private rotatedAt: number;

  constructor(
    private readonly rotationMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  private rotateIfDue(): void {
    const t = this.now();
    if (t - this.rotatedAt < this.rotationMs) return;
    // Two periods without traffic: the previous secret is too old as well.
    this.previous = t - this.rotatedAt < 2 * this.rotationMs ? this.current : undefined;
    this.current = randomBytes(32);
    this.rotatedAt = t;
  }

  /** Forces a rotation (tests, or an operator after a suspected leak). */
  rotate(): void {
    this.previous = this.current;
    this.current = randomBytes(32);
    this.rotatedAt = this.now();
  }

  private mac(secret: Buffer, input: CookieInput): Buffer {
    return createHmac('sha256', secret).update(`${input.address}|${input.port}|`).update(input.params).digest().subarray(0, COOKIE_LENGTH);
  }

  make(input: CookieInput): Buffer {
    this.rotateIfDue();
    return this.mac(this.current, input);
  }

  verify(cookie: Buffer, input: CookieInput): boolean {
    this.rotateIfDue();
    if (cookie.length !== COOKIE_LENGTH) return false;
    if (timingSafeEqual(cookie, this.mac(this.current, input))) return true;
    return this.previous !== undefined && timingSafeEqual(cookie, this.mac(this.previous, input));
  }
}
