import type { Logger } from '../../common/logger.js';
import type { GatewayConfig } from '../config.js';
import { loadKeyPair, loadOrCreateLocalCa, loadOrCreateServerCert, type KeyPair } from './certificates.js';

export interface ApiTls extends KeyPair {
  /** The certificate a client must trust: the local CA's, or undefined for the operator's own certificate (a public CA's). */
  caFile: string | undefined;
}

/**
 * The API's HTTPS key and certificate: the operator's own files, or a certificate issued by the
 * gateway's local CA (made on first start, reused afterwards, so a client told to trust the CA
 * keeps trusting it).
 */
export async function loadOrCreateApiTls(config: GatewayConfig, log: Logger): Promise<ApiTls | undefined> {
  const tls = config.api.tls;
  if (!tls.enabled) return undefined;
  if (tls.certFile && tls.keyFile) return { ...loadKeyPair(tls.certFile, tls.keyFile), caFile: undefined };
  const ca = await loadOrCreateLocalCa(config.dataDir, log);
  return { ...(await loadOrCreateServerCert(config.dataDir, ca, 'api', config.api.host)), caFile: ca.certFile };
}
