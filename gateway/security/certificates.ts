import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { Logger } from '../../common/logger.js';

/** A key and certificate chain (PEM) and where the certificate is. */
export interface KeyPair {
  key: Buffer;
  cert: Buffer;
  certFile: string;
}

/** The gateway's own certificate authority: what a CLI, browser or device is told to trust. */
export interface LocalCa extends KeyPair {
  /** How clients refer to the CA (its subject's common name). */
  name: string;
}

const DAY_MS = 86_400_000;

/**
 * A certificate authority of this gateway alone, made on first start in `<dataDir>/tls` (EC
 * P-256, ten years; key 0600) when the operator brings no certificates: the API's and the MQTT
 * broker's server certificates are issued by it, so one file (`ca.pem`) is all a client trusts.
 */
export async function loadOrCreateLocalCa(dataDir: string, log: Logger): Promise<LocalCa> {
  const dir = tlsDir(dataDir);
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  const name = `edgedm local CA ${hostname()}`;
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const notBefore = new Date(Date.now() - 3600_000);
    const pems = await generate([{ name: 'commonName', value: name }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: notBefore,
      notAfterDate: new Date(notBefore.getTime() + 3650 * DAY_MS),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
    log.info({ certFile, fingerprint: pems.fingerprint }, 'made a local certificate authority for the API and MQTT over TLS');
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile, name };
}

/**
 * A server certificate issued by the local CA for `purpose` (`api`, `mqtt`), naming localhost,
 * this host and `listenHost`; made once and reused while the CA is the same.
 */
export async function loadOrCreateServerCert(dataDir: string, ca: LocalCa, purpose: string, listenHost: string): Promise<KeyPair> {
  const dir = tlsDir(dataDir);
  const certFile = join(dir, `${purpose}-cert.pem`);
  const keyFile = join(dir, `${purpose}-key.pem`);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const names = new Set(['localhost', hostname()]);
    const ips = new Set(['127.0.0.1', '::1']);
    if (isIP(listenHost) && listenHost !== '0.0.0.0' && listenHost !== '::') ips.add(listenHost);
    else if (!isIP(listenHost)) names.add(listenHost);
    const notBefore = new Date(Date.now() - 3600_000);
    const pems = await generate([{ name: 'commonName', value: `edgedm ${purpose} ${hostname()}` }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: notBefore,
      notAfterDate: new Date(notBefore.getTime() + 2 * 365 * DAY_MS),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...[...names].map((value) => ({ type: 2 as const, value })), ...[...ips].map((ip) => ({ type: 7 as const, ip }))],
        },
      ],
      ca: { key: ca.key.toString(), cert: ca.cert.toString() },
    });
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, `${pems.cert.trim()}\n${ca.cert.toString().trim()}\n`, { mode: 0o644 });
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
}

export interface ServerTls extends KeyPair {
  /** The certificate a client must trust: the local CA's, or undefined for the operator's own certificate (a public CA's). */
  caFile: string | undefined;
}

/**
 * A TLS listener's key and certificate (the API's, the MQTT broker's): the operator's own files,
 * or a certificate the local CA issues for `purpose` on first start and reused afterwards, so a
 * client told to trust the CA keeps trusting it. Undefined when the listener's TLS is off.
 */
export async function loadServerTls(
  settings: { enabled: boolean; certFile: string | null; keyFile: string | null },
  dataDir: string,
  purpose: string,
  listenHost: string,
  log: Logger,
): Promise<ServerTls | undefined> {
  if (!settings.enabled) return undefined;
  if (settings.certFile && settings.keyFile) {
    return { key: readFileSync(settings.keyFile), cert: readFileSync(settings.certFile), certFile: settings.certFile, caFile: undefined };
  }
  const ca = await loadOrCreateLocalCa(dataDir, log);
  return { ...(await loadOrCreateServerCert(dataDir, ca, purpose, listenHost)), caFile: ca.certFile };
}

function tlsDir(dataDir: string): string {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
