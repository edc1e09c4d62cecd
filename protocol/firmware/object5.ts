/**
 * The values of LwM2M Object 5 (Firmware Update, 5.xml), shared by the agent that implements
 * it and the gateway that drives it.
 */
export const FirmwareState = { IDLE: 0, DOWNLOADING: 1, DOWNLOADED: 2, UPDATING: 3 } as const;
export type FirmwareState = (typeof FirmwareState)[keyof typeof FirmwareState];

export const UpdateResult = {
  INITIAL: 0,
  SUCCESS: 1,
  NOT_ENOUGH_FLASH: 2,
  OUT_OF_RAM: 3,
  CONNECTION_LOST: 4,
  INTEGRITY_CHECK_FAILURE: 5,
  UNSUPPORTED_PACKAGE_TYPE: 6,
  INVALID_URI: 7,
  UPDATE_FAILED: 8,
  UNSUPPORTED_PROTOCOL: 9,
  CANCELLED: 10,
  DEFERRED: 11,
} as const;
export type UpdateResult = (typeof UpdateResult)[keyof typeof UpdateResult];

const RESULT_NAMES: Record<number, string> = {
  0: 'initial',
  1: 'firmware updated successfully',
  2: 'not enough flash memory',
  3: 'out of RAM during download',
  4: 'connection lost during download',
  5: 'integrity check failure',
  6: 'unsupported package type',
  7: 'invalid URI',
  8: 'firmware update failed',
  9: 'unsupported protocol',
  10: 'firmware update cancelled',
  11: 'firmware update deferred',
};

export function describeUpdateResult(result: number): string {
  return RESULT_NAMES[result] ?? `unknown update result ${result}`;
}

/** /5/0/8 Firmware Update Protocol Support values. */
export const FirmwareProtocol = { COAP: 0, COAPS: 1, HTTP: 2, HTTPS: 3, COAP_TCP: 4, COAP_TLS: 5 } as const;

/** /5/0/9 Firmware Update Delivery Method values. */
export const DeliveryMethod = { PULL: 0, PUSH: 1, BOTH: 2 } as const;

/** /5/0/11 Severity values; the registry's default is Mandatory. */
export const FirmwareSeverity = { CRITICAL: 0, MANDATORY: 1, OPTIONAL: 2 } as const;
