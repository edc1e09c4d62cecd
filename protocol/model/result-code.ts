/**
 * Result codes of model operations, aligned with CoAP response codes (RFC 7252 §5.9),
 * which is what LwM2M uses on the wire. MQTT carries the same codes.
 */
export const ResultCode = {
  CREATED: '2.01',
  DELETED: '2.02',
  VALID: '2.03',
  CHANGED: '2.04',
  CONTENT: '2.05',
  CONTINUE: '2.31',
  BAD_REQUEST: '4.00',
  UNAUTHORIZED: '4.01',
  BAD_OPTION: '4.02',
  FORBIDDEN: '4.03',
  NOT_FOUND: '4.04',
  METHOD_NOT_ALLOWED: '4.05',
  NOT_ACCEPTABLE: '4.06',
  REQUEST_ENTITY_INCOMPLETE: '4.08',
  CONFLICT: '4.09',
  PRECONDITION_FAILED: '4.12',
  REQUEST_ENTITY_TOO_LARGE: '4.13',
  UNSUPPORTED_CONTENT_FORMAT: '4.15',
  INTERNAL_SERVER_ERROR: '5.00',
  NOT_IMPLEMENTED: '5.01',
  BAD_GATEWAY: '5.02',
  SERVICE_UNAVAILABLE: '5.03',
  GATEWAY_TIMEOUT: '5.04',
} as const;

export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

const NAMES: Record<string, string> = {
  '2.01': 'Created',
  '2.02': 'Deleted',
  '2.03': 'Valid',
  '2.04': 'Changed',
  '2.05': 'Content',
  '2.31': 'Continue',
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.02': 'Bad Option',
  '4.03': 'Forbidden',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '4.06': 'Not Acceptable',
  '4.08': 'Request Entity Incomplete',
  '4.09': 'Conflict',
  '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large',
  '4.15': 'Unsupported Content-Format',
  '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented',
  '5.02': 'Bad Gateway',
  '5.03': 'Service Unavailable',
  '5.04': 'Gateway Timeout',
};

const ALL = new Set<string>(Object.values(ResultCode));

export function isResultCode(s: string): s is ResultCode {
  return ALL.has(s);
}

export function isSuccess(code: ResultCode): boolean {
  return code.startsWith('2.');
}

/** "4.04 Not Found" */
export function describeResultCode(code: ResultCode): string {
  return `${code} ${NAMES[code] ?? ''}`.trim();
}

/** The CoAP code as one byte (class << 5 | detail), e.g. 4.04 → 0x84. */
export function resultCodeToByte(code: ResultCode): number {
  const [cls, detail] = code.split('.').map(Number) as [number, number];
  return (cls << 5) | detail;
}

export function resultCodeFromByte(byte: number): ResultCode | undefined {
  const s = `${byte >> 5}.${String(byte & 0x1f).padStart(2, '0')}`;
  return isResultCode(s) ? s : undefined;
}
