/**
 * TLS alerts (RFC 5246 §7.2, RFC 4279 §2) and the one error type of the DTLS stack. A DtlsError
 * names the alert that was (or would be) sent; `remote` tells that the peer sent it.
 */
export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  illegal_parameter: 47,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  user_canceled: 90,
  no_renegotiation: 100,
  unsupported_extension: 110,
  unknown_psk_identity: 115,
} as const;

export type AlertName = keyof typeof AlertDescription;

const NAMES = new Map<number, AlertName>(Object.entries(AlertDescription).map(([name, code]) => [code, name as AlertName]));

export function alertName(code: number): AlertName | `alert_${number}` {
  return NAMES.get(code) ?? `alert_${code}`;
}

export class DtlsError extends Error {
  override readonly name = 'DtlsError';
  constructor(
    /** The alert that goes with this error (sent to the peer when fatal and local). */
    readonly alert: AlertName | `alert_${number}`,
    message: string,
    /** True when the peer sent the alert; false when we detected the problem. */
    readonly remote = false,
  ) {
    super(message);
  }

  get alertCode(): number {
    return AlertDescription[this.alert as AlertName] ?? Number(this.alert.slice('alert_'.length));
  }
}

/** A handshake that did not complete in time (no alert is sent for it). */
export class DtlsTimeoutError extends DtlsError {
  constructor(message: string) {
    super('handshake_failure', message);
  }
}
