import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  canonicalManifestBytes,
  compareVersions,
  ManifestError,
  manifestSignatureValid,
  parseSignedManifest,
  publicKeyFromTrustAnchor,
  signManifest,
  trustAnchorOf,
  type FirmwareManifest,
} from '../../protocol/firmware/index.js';

const manifest: FirmwareManifest = {
  formatVersion: 1,
  vendor: 'acme',
  models: ['EDM-TH1'],
  name: 'sensor',
  version: '1.2.0',
  size: 1024,
  sha256: 'a'.repeat(64),
  issuedAt: '2026-11-25T00:00:00.000Z',
};

describe('firmware manifests', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const anchor = trustAnchorOf(privateKey);
  const publicKey = publicKeyFromTrustAnchor(anchor);

  test('a signed manifest verifies with the trust anchor and survives a round trip through its file form', () => {
    const signed = signManifest(manifest, privateKey);
    const parsed = parseSignedManifest(Buffer.from(JSON.stringify(signed)));
    assert.deepEqual(parsed.manifest, manifest);
    assert.ok(manifestSignatureValid(parsed, publicKey));
  });

  test('canonical bytes do not depend on key order', () => {
    const reordered = Object.fromEntries(Object.entries(manifest).reverse()) as unknown as FirmwareManifest;
    assert.deepEqual(canonicalManifestBytes(reordered), canonicalManifestBytes(manifest));
  });

  test('any changed field, or another key, breaks the signature', () => {
    const signed = signManifest(manifest, privateKey);
    for (const change of [{ version: '9.9.9' }, { sha256: 'b'.repeat(64) }, { models: ['OTHER'] }, { allowDowngrade: true }, { size: 1025 }]) {
      assert.equal(manifestSignatureValid({ ...signed, manifest: { ...manifest, ...change } }, publicKey), false, JSON.stringify(change));
    }
    const other = publicKeyFromTrustAnchor(trustAnchorOf(generateKeyPairSync('ed25519').privateKey));
    assert.equal(manifestSignatureValid(signed, other), false);
    assert.equal(manifestSignatureValid({ ...signed, signature: 'not base64 at all' }, publicKey), false);
  });

  test('malformed manifest files are refused with a reason', () => {
    const cases: [string, RegExp][] = [
      ['{', /not JSON/],
      ['{}', /lacks/],
      [JSON.stringify({ manifest: { ...manifest, formatVersion: 2 }, signature: 'x' }), /unsupported manifest format/],
      [JSON.stringify({ manifest: { ...manifest, sha256: 'xyz' }, signature: 'x' }), /sha256/],
      [JSON.stringify({ manifest: { ...manifest, models: [] }, signature: 'x' }), /models/],
      [JSON.stringify({ manifest: { ...manifest, size: -1 }, signature: 'x' }), /size/],
      ['x'.repeat(20_000), /larger than/],
    ];
    for (const [text, reason] of cases) assert.throws(() => parseSignedManifest(Buffer.from(text)), (e: unknown) => e instanceof ManifestError && reason.test(e.message), text.slice(0, 40));
  });

  test('a trust anchor that is not an Ed25519 key is refused', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    assert.throws(() => publicKeyFromTrustAnchor(new Uint8Array(rsa)), ManifestError);
  });
});

describe('firmware version order (anti-rollback)', () => {
  const ordered = ['0.9.9', '1.0.0-rc1', '1.0.0', '1.0.1', '1.2', '1.9.0', '1.10.0', '2.0.0'];
  test('numeric parts compare as numbers, pre-releases before their release', () => {
    for (let i = 0; i < ordered.length - 1; i++) {
      assert.ok(compareVersions(ordered[i]!, ordered[i + 1]!) < 0, `${ordered[i]} < ${ordered[i + 1]}`);
      assert.ok(compareVersions(ordered[i + 1]!, ordered[i]!) > 0, `${ordered[i + 1]} > ${ordered[i]}`);
    }
    assert.equal(compareVersions('1.2', '1.2.0'), 0);
    assert.equal(compareVersions('v1.2.0', '1.2.0'), 0);
  });
});
