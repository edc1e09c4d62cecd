import type { CoapRequestSpec, CoapResponse } from '../../../common/coap/coap-client.js';
import { encodeUint } from '../../../protocol/coap/index.js';
import { encodeLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import type { Link } from '../../../protocol/model/index.js';

/** The LwM2M version this client speaks (`lwm2m=` of Register, `lwm2m` of Bootstrap-Discover). */
export const LWM2M_VERSION = '1.1';

/**
 * The content formats announced on the root link (LwM2M 1.1 Core §6.2.1: `ct`): those that carry
 * any level of content; text/plain and octet-stream (single resources) need no announcing.
 */
export const ANNOUNCED_FORMATS = [LwM2mContentFormat.SENML_JSON, LwM2mContentFormat.SENML_CBOR, LwM2mContentFormat.TLV] as const;

const ROOT_LINK: Link = { target: '/', attributes: { rt: 'oma.lwm2m', ct: ANNOUNCED_FORMATS.join(' ') } };

const linkFormat = (links: readonly Link[]): Pick<CoapRequestSpec, 'options' | 'payload'> => ({
  options: [['Content-Format', encodeUint(LwM2mContentFormat.LINK)]],
  payload: encodeLinks([ROOT_LINK, ...links]),
});

export interface RegisterParams {
  endpoint: string;
  lifetime: number;
  queueMode: boolean;
  objectLinks: readonly Link[];
}

/**
 * Register (1.1 Core §6.2.1, Transport §6.2): `POST /rd?ep=…&lt=…&lwm2m=1.1&b=U[&Q]` with the
 * object list `</>;rt="oma.lwm2m";ct="110 112 11542",</1/0>,</3/0>,…` in link format.
 */
export function registerRequest(p: RegisterParams): CoapRequestSpec {
  return {
    method: 'POST',
    path: ['rd'],
    query: [`ep=${p.endpoint}`, `lt=${p.lifetime}`, `lwm2m=${LWM2M_VERSION}`, 'b=U', ...(p.queueMode ? ['Q'] : [])],
    ...linkFormat(p.objectLinks),
  };
}

/** Update (§6.2.2): `POST /{location}`, with only what changed since the last Register or Update. */
export function updateRequest(location: readonly string[], changes: { lifetime?: number; objectLinks?: readonly Link[] }): CoapRequestSpec {
  return {
    method: 'POST',
    path: [...location],
    query: changes.lifetime === undefined ? [] : [`lt=${changes.lifetime}`],
    ...(changes.objectLinks ? linkFormat(changes.objectLinks) : {}),
  };
}

/** De-register (§6.2.3): `DELETE /{location}`. */
export function deregisterRequest(location: readonly string[]): CoapRequestSpec {
  return { method: 'DELETE', path: [...location] };
}

/** Bootstrap-Request (§5.2.7, Transport §6.1): `POST /bs?ep=…`, with `pct=` when a preferred format is set. */
export function bootstrapRequest(endpoint: string, preferredContentFormat?: number): CoapRequestSpec {
  return { method: 'POST', path: ['bs'], query: [`ep=${endpoint}`, ...(preferredContentFormat === undefined ? [] : [`pct=${preferredContentFormat}`])] };
}

/** An answer's diagnostic payload for a log line or an error message, when it is printable text. */
export function diagnosticOf(response: CoapResponse): string {
  const text = response.payload.subarray(0, 200).toString('utf8');
  return /^[\x20-\x7e]+$/.test(text) ? ` (${text})` : '';
}
