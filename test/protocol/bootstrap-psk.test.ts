import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { BOOTSTRAP_PSK_BYTES, deriveBootstrapPsk } from '../../protocol/bootstrap-psk.js';

test('the bootstrap PSK is HKDF-SHA256(secret, info "edgedm lwm2m bootstrap psk"), 16 bytes: a fixed vector', () => {
  // Computed with `openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt key:factory-secret-0123456789 -kdfopt info:"edgedm lwm2m bootstrap psk" HKDF`.
  assert.equal(deriveBootstrapPsk('factory-secret-0123456789').toString('hex'), 'f2d4a65c4fb00547375789ce881e190e');
  assert.equal(deriveBootstrapPsk('x'.repeat(512)).length, BOOTSTRAP_PSK_BYTES);
  assert.notDeepEqual(deriveBootstrapPsk('factory-secret-0123456789'), deriveBootstrapPsk('factory-secret-012345678A'));
});

test('the documented openssl command gives the same key', (t) => {
  let out: string;
  try {
    out = execFileSync('openssl', ['kdf', '-keylen', '16', '-kdfopt', 'digest:SHA256', '-kdfopt', 'key:pump-0042-secret-abcdef', '-kdfopt', 'info:edgedm lwm2m bootstrap psk', 'HKDF'], { encoding: 'utf8' });
  } catch {
    t.skip('openssl 3 (kdf) not available');
    return;
  }
  assert.equal(out.trim().replace(/:/g, '').toLowerCase(), deriveBootstrapPsk('pump-0042-secret-abcdef').toString('hex'));
});
