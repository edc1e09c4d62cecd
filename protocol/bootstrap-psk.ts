import { hkdfSync } from 'node:crypto';

/** HKDF `info` of the LwM2M bootstrap PSK: the derivation is for this use only. */
export const BOOTSTRAP_PSK_INFO = 'edgedm lwm2m bootstrap psk';
/** 128 bits: the strength of the AES-128 suites it keys. */
export const BOOTSTRAP_PSK_BYTES = 16;

/**
 * The DTLS pre-shared key of a device's LwM2M Bootstrap-Server account (its Security instance
 * with Bootstrap-Server = true, Security Mode 0), which the agent and the gateway each derive
 * from the factory secret: HKDF-SHA256 (RFC 5869), input key the secret's UTF-8 bytes, empty
 * salt, info `edgedm lwm2m bootstrap psk`, 16 bytes. The PSK identity is the endpoint name.
 * The factory secret itself never keys DTLS, and the MQTT factory login (which presents it)
 * does not reveal this key. Reproducible for a third-party client with OpenSSL 3:
 *
 *   openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt key:<secret> \
 *     -kdfopt info:"edgedm lwm2m bootstrap psk" HKDF
 */
export function deriveBootstrapPsk(factorySecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(factorySecret, 'utf8'), Buffer.alloc(0), BOOTSTRAP_PSK_INFO, BOOTSTRAP_PSK_BYTES));
}
