import type { Socket } from 'node:dgram';
import type { ObserveWriteStream, OutgoingMessage } from 'coap';
import type { CoapTransmission } from '../../../common/coap/coap-client.js';
import { CoapNode } from '../../../common/coap/coap-node.js';
import { DtlsClient, DtlsSocket } from '../../../common/dtls/index.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import type { Logger } from '../../../common/logger.js';
import type { AgentObjects } from '../../objects/index.js';
import type { ObservationManager } from '../../observation/observation-manager.js';
import type { BindingEvents } from '../binding.js';

/** What every CoAP binding of the agent (LwM2M, plain CoAP) runs on. */
export interface CoapAgentBindingOptions {
  endpoint: string;
  objects: AgentObjects;
  observations: ObservationManager;
  reconnect: { minDelayMs: number; maxDelayMs: number };
  events: BindingEvents;
  log: Logger;
  /** A CoAP node to run on; its owner closes it. Without one the binding binds its own at `listen` and closes it on stop. */
  node?: CoapNode;
  /** Where to bind the binding's own node (default 0.0.0.0, a free port: a device's ephemeral source port). */
  listen?: { host: string; port: number };
  /** CoAP retransmission of the binding's own node (tests shorten it). */
  transmission?: CoapTransmission;
}

/** The node the binding serves on (given, or bound now), with `dispatch` taking every request no other route claims. */
export async function openBindingNode(
  opts: Pick<CoapAgentBindingOptions, 'node' | 'listen' | 'transmission' | 'log'>,
  dispatch: (req: CoapRequest, res: OutgoingMessage | ObserveWriteStream) => void | Promise<void>,
): Promise<CoapNode> {
  const node = opts.node ?? (await CoapNode.bind({ ...(opts.listen ?? { host: '0.0.0.0', port: 0 }), log: opts.log, ...(opts.transmission ? { transmission: opts.transmission } : {}) }));
  node.fallback(dispatch);
  return node;
}

/**
 * A node over DTLS with a pre-shared key (coaps://): a DtlsClient that handshakes with a server on
 * the first request to it, and again whenever the session is gone (server restart, key rotation,
 * idle timeout). The server's requests come back through that session to `dispatch`.
 */
export async function openSecureBindingNode(
  opts: Pick<CoapAgentBindingOptions, 'listen' | 'transmission' | 'log'>,
  psk: { identity: Buffer; key: Buffer },
  dispatch: (req: CoapRequest, res: OutgoingMessage | ObserveWriteStream) => void | Promise<void>,
): Promise<{ node: CoapNode; client: DtlsClient }> {
  const listen = opts.listen ?? { host: '0.0.0.0', port: 0 };
  const client = await DtlsClient.create({ psk: { identity: Buffer.from(psk.identity), key: Buffer.from(psk.key) }, bindAddress: listen.host, log: opts.log });
  const node = await CoapNode.bind({
    host: listen.host,
    port: 0,
    log: opts.log,
    socket: new DtlsSocket(client) as unknown as Socket,
    dtls: {},
    ...(opts.transmission ? { transmission: opts.transmission } : {}),
  });
  node.fallback(dispatch);
  return { node, client };
}
