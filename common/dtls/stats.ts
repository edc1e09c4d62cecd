/** Counters of a DTLS endpoint: everything dropped is counted, nothing throws. */
export interface DtlsStats {
  datagramsIn: number;
  datagramsOut: number;
  recordsIn: number;
  /** Records whose header did not parse (the rest of their datagram is dropped with them). */
  malformedRecords: number;
  /** Handshake or alert bodies that did not parse. */
  malformedMessages: number;
  badRecordMac: number;
  replayed: number;
  /** Records of an epoch older than the current one. */
  oldEpoch: number;
  /** Records of a future epoch that could not be buffered. */
  futureEpoch: number;
  /** Records not valid in the session's state (application data before the handshake, …). */
  unexpected: number;
  /** Datagrams from unknown peers that were not a usable ClientHello. */
  strayDatagrams: number;
  helloVerifyRequests: number;
  badCookies: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  handshakeTimeouts: number;
  retransmissions: number;
  sessionsEvicted: number;
  sessionsRefused: number;
  sessionsIdleClosed: number;
  alertsSent: number;
  alertsReceived: number;
}

export function newStats(): DtlsStats {
  return {
    datagramsIn: 0,
    datagramsOut: 0,
    recordsIn: 0,
    malformedRecords: 0,
    malformedMessages: 0,
    badRecordMac: 0,
    replayed: 0,
    oldEpoch: 0,
    futureEpoch: 0,
    unexpected: 0,
    strayDatagrams: 0,
    helloVerifyRequests: 0,
    badCookies: 0,
    handshakesStarted: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    handshakeTimeouts: 0,
    retransmissions: 0,
    sessionsEvicted: 0,
    sessionsRefused: 0,
    sessionsIdleClosed: 0,
    alertsSent: 0,
    alertsReceived: 0,
  };
}

/** pino-compatible subset; the stack never passes keys, PSKs or master secrets to it. */
export interface DtlsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
