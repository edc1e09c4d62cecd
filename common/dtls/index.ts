export { CipherSuite, suiteName, type CipherSuiteName } from './cipher-suites.js';
export { AlertDescription, DtlsError, DtlsTimeoutError, type AlertName } from './errors.js';
export { DtlsClient, type DtlsClientOptions } from './dtls-client.js';
export { DtlsServer, type DtlsServerOptions } from './dtls-server.js';
export { DtlsSocket } from './dtls-socket.js';
export type { PskCredentials, ClientPsk } from './handshake-client.js';
export type { ServerPskLookup } from './handshake-server.js';
export type { DtlsSession, HandshakeResult } from './session.js';
export type { DtlsStats, DtlsLogger } from './stats.js';
