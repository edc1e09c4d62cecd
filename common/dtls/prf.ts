import { createHash, createHmac } from 'node:crypto';

/**
 * The TLS 1.2 pseudo-random function (RFC 5246 §5): P_SHA256 on node:crypto's HMAC.
 *   P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + …
 *   A(0) = seed, A(i) = HMAC(secret, A(i-1))
 *   PRF(secret, label, seed) = P_SHA256(secret, label + seed)
 */
export function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let produced = 0;
  let a = seed;
  while (produced < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'ascii'), seed]), length);
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 4279 §2: premaster secret of plain PSK key exchange. */
export function pskPremasterSecret(psk: Buffer): Buffer {
  const n = psk.length;
  const out = Buffer.alloc(4 + 2 * n);
  out.writeUInt16BE(n, 0);
  // n zero bytes, then the PSK with its length.
  out.writeUInt16BE(n, 2 + n);
  psk.copy(out, 4 + n);
  return out;
}

/**
 * RFC 5246 §8.1 master secret, or RFC 7627 §4 extended master secret when `sessionHash` (hash of
 * the handshake up to and including ClientKeyExchange) is given.
 */
export function masterSecret(premaster: Buffer, clientRandom: Buffer, serverRandom: Buffer, sessionHash?: Buffer): Buffer {
  return sessionHash
    ? prf(premaster, 'extended master secret', sessionHash, 48)
    : prf(premaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

export function finishedVerifyData(master: Buffer, sender: 'client' | 'server', transcriptHash: Buffer): Buffer {
  return prf(master, `${sender} finished`, transcriptHash, 12);
}
