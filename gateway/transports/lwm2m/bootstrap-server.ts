import type { OutgoingMessage } from 'coap';
import type { CoapClient, CoapPeerAddress } from '../../../common/coap/coap-client.js';
import { respond, respondError } from '../../../common/coap/coap-response.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import type { Logger } from '../../../common/logger.js';
import { isValidEndpointName } from '../../../protocol/endpoint.js';
import { encodeUint } from '../../../protocol/coap/index.js';
import { encodeContent, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import { LwM2mPath, type LwM2mRecord } from '../../../protocol/model/index.js';
import type { DeviceSessionHandler } from '../../device-link.js';
import { parseQuery, RegistrationError } from './registration.js';

/** edgedm's private object (OMA range 32769–42768) carrying the firmware trust anchor; other clients answer 4.04 and lose nothing. */
export const TRUST_ANCHOR_OBJECT_ID = 32769;

export interface BootstrapServerOptions {
  client: CoapClient;
  handler: DeviceSessionHandler;
  log: Logger;
  /** Per request to the client during a bootstrap sequence. */
  requestTimeoutMs?: number;
  /**
   * Whether an endpoint may bootstrap over the channel the request came by (plain CoAP, or DTLS
   * with a PSK identity): undefined allows, a reason refuses (4.03). Default: every admitted endpoint.
   */
  authorize?: (endpoint: string, channel: { scheme: 'coap' | 'coaps'; pskIdentity?: string }) => string | undefined;
}

/**
 * The LwM2M Bootstrap Server (`/bs`, OMA LwM2M 1.1 Core §6.1, Client-Initiated Bootstrap):
 * a client POSTs /bs?ep=…, gets 2.04, and the server then deletes what the client had
 * (Bootstrap-Delete of `/`: the bootstrap account stays), writes the DM server's Security and
 * Server instances, and ends with Bootstrap-Finish. The content is the fleet layer's grant, the
 * same one MQTT devices receive; it travels as TLV, which every LwM2M version understands.
 * Served on plain CoAP and on the bootstrap DTLS endpoint (coaps://, PSK identity = endpoint
 * name); its requests to the client go back the way the Bootstrap-Request came, so over DTLS
 * the DM server's credentials never cross the network in clear.
 */
export class BootstrapServer {
  /** Endpoints whose sequence runs; bootstrap over DTLS or not, one at a time per endpoint. */
  private readonly running = new Set<string>();

  constructor(private readonly opts: BootstrapServerOptions) {}

  readonly handle = (req: CoapRequest, res: OutgoingMessage): void => {
    if (req.method !== 'POST' || req.path.length !== 1) {
      respondError(res, '4.05', 'Bootstrap-Request is POST /bs?ep={endpoint}');
      return;
    }
    let endpoint: string | undefined;
    try {
      endpoint = parseQuery(req.query).get('ep');
    } catch (err) {
      if (err instanceof RegistrationError) return respondError(res, '4.00', err.message);
      throw err;
    }
    if (!endpoint || !isValidEndpointName(endpoint)) return respondError(res, '4.00', 'the endpoint name "ep" is missing or not valid');
    if (!this.opts.handler.admit(endpoint, 'lwm2m')) {
      this.opts.log.warn({ endpoint, peer: `${req.peer.address}:${req.peer.port}` }, 'LwM2M bootstrap of an unknown or decommissioned endpoint refused');
      return respondError(res, '4.03', 'endpoint not admitted');
    }
    const channel = req.via?.pskIdentity === undefined ? { scheme: req.via?.scheme ?? 'coap' } : { scheme: req.via.scheme, pskIdentity: req.via.pskIdentity };
    const refused = this.opts.authorize?.(endpoint, channel);
    if (refused !== undefined) {
      this.opts.log.warn({ endpoint, peer: `${req.peer.address}:${req.peer.port}`, scheme: channel.scheme, identity: channel.pskIdentity ?? null, reason: refused }, 'LwM2M bootstrap refused');
      return respondError(res, '4.03', refused);
    }
    if (this.running.has(endpoint)) {
      // A retransmitted or repeated request while the sequence runs: answer it, start nothing new.
      respond(res, '2.04');
      return;
    }
    respond(res, '2.04');
    const peer = { address: req.peer.address, port: req.peer.port };
    this.running.add(endpoint);
    // The bootstrap server's requests go back the way the Bootstrap-Request came.
    void this.provision(endpoint, peer, req.via?.client ?? this.opts.client)
      .catch((err: unknown) => this.opts.log.warn({ endpoint, reason: (err as Error).message }, 'LwM2M bootstrap failed; the client will ask again'))
      .finally(() => this.running.delete(endpoint!));
  };

  private async provision(endpoint: string, peer: CoapPeerAddress, client: CoapClient): Promise<void> {
    const timeoutMs = this.opts.requestTimeoutMs ?? 10_000;
    const send = async (what: string, spec: Parameters<CoapClient['request']>[1], okCodes: string[]) => {
      const res = await client.request(peer, spec, { timeoutMs });
      if (!okCodes.includes(res.code)) throw new Error(`${what}: the client answered ${res.code}${res.payload.length ? ` (${res.payload.toString('utf8').slice(0, 100)})` : ''}`);
      return res.code;
    };
    const grant = this.opts.handler.bootstrap(endpoint, 'lwm2m');
    await send('Bootstrap-Delete /', { method: 'DELETE', path: [] }, ['2.02']);
    for (const [instance, records] of groupByInstance(grant.content)) {
      const path = LwM2mPath.parse(instance);
      await send(`Bootstrap-Write ${instance}`, tlvWrite(path, records), ['2.04']);
    }
    if (grant.firmwareTrustAnchor) {
      const path = LwM2mPath.of(TRUST_ANCHOR_OBJECT_ID, 0);
      const records: LwM2mRecord[] = [{ path: path.child(0), type: 'opaque', value: grant.firmwareTrustAnchor }];
      const code = await send('Bootstrap-Write of the firmware trust anchor', tlvWrite(path, records), ['2.04', '4.04', '4.05']);
      if (code !== '2.04') this.opts.log.info({ endpoint }, 'the client has no firmware trust anchor object: its firmware is not edgedm-signed');
    }
    await send('Bootstrap-Finish', { method: 'POST', path: ['bs'] }, ['2.04']);
    this.opts.log.info({ endpoint }, 'LwM2M bootstrap finished');
  }
}

function tlvWrite(path: LwM2mPath, records: LwM2mRecord[]): Parameters<CoapClient['request']>[1] {
  return {
    method: 'PUT',
    path: path.segments().map(String),
    options: [['Content-Format', encodeUint(LwM2mContentFormat.TLV)]],
    payload: encodeContent(LwM2mContentFormat.TLV, records, path),
  };
}

function groupByInstance(content: readonly LwM2mRecord[]): Map<string, LwM2mRecord[]> {
  const out = new Map<string, LwM2mRecord[]>();
  for (const r of content) {
    const key = `/${r.path.objectId}/${r.path.instanceId}`;
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  return out;
}
