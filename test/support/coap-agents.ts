import { join } from 'node:path';
import { Agent, type AgentOptions } from '../../agent/agent.js';
import { defaultPackageSources } from '../../agent/firmware/sources.js';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { api, testLog } from './harness.js';

export interface CoapAgent {
  agent: Agent;
  host: SimulatedHost;
}

/** The gateway's firmware-signing public key, as a plain CoAP agent is configured with it. */
export async function trustAnchorOf(gateway: Gateway): Promise<Uint8Array> {
  const res = await api<{ spkiDer: string }>(gateway, 'GET', '/api/v1/firmware/trust-anchor');
  if (res.status !== 200) throw new Error(`trust anchor: HTTP ${res.status}`);
  return new Uint8Array(Buffer.from(res.body.spkiDer, 'base64'));
}

/**
 * Simulated devices whose agents speak plain CoAP (`transport: 'coap'`) and register with the
 * Resource Directory at `rdUri` (default: the gateway's CoAP endpoint, path discovered). The
 * options are what `edgedm sim --transport coap` needs to pass to each Agent.
 */
export function startCoapAgents(
  identities: SimulatedIdentity[],
  dir: string,
  opts: { rdUri: string; trustAnchor?: Uint8Array; coap?: AgentOptions['coap']; firmware?: AgentOptions['firmware'] },
): CoapAgent[] {
  return identities.map((identity, index) => {
    const host = new SimulatedHost({
      flashDir: join(dir, identity.endpoint, 'flash'),
      serialNumber: identity.serialNumber,
      model: identity.model,
      manufacturer: 'edgedm simulated devices',
      firmwareVersion: '1.0.0',
      seed: index + 1,
    });
    const agent = new Agent({
      endpoint: identity.endpoint,
      factorySecret: identity.secret,
      transport: 'coap',
      bootstrapServerUri: opts.rdUri,
      ...(opts.trustAnchor ? { firmwareTrustAnchor: opts.trustAnchor } : {}),
      stateDir: join(dir, identity.endpoint, 'agent'),
      keepaliveSeconds: 30,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
      host,
      log: testLog.child({ endpoint: identity.endpoint }),
      coap: { listen: { host: '127.0.0.1', port: 0 }, ...opts.coap },
      firmware: { ...opts.firmware, sources: host.radio.packageSources(opts.firmware?.sources ?? defaultPackageSources) },
    });
    agent.start();
    return { agent, host };
  });
}
