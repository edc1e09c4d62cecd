import type { AddressInfo } from 'node:net';
import { Lwm2mBinding, type Lwm2mBindingOptions } from '../../agent/bindings/lwm2m/lwm2m-binding.js';
import { applyBootstrapWrite } from '../../agent/objects/bootstrap.js';
import { createAgentObjects, type AgentObjects } from '../../agent/objects/index.js';
import { ObservationManager } from '../../agent/observation/observation-manager.js';
import { StateStore } from '../../agent/state/state-store.js';
import type { CoapPeerAddress, CoapRequestSpec, CoapResponse, CoapTransmission } from '../../common/coap/coap-client.js';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond } from '../../common/coap/coap-response.js';
import { decodeLinks } from '../../protocol/lwm2m/index.js';
import { LwM2mPath, type Link, type LwM2mRecord } from '../../protocol/model/index.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { tempDir, testLog } from '../support/harness.js';
import { recordingActions } from './objects.js';

/** Fast retransmission on loopback: nothing is lost, and a dropped request should fail fast. */
export const FAST: CoapTransmission = { ackTimeoutMs: 150, ackRandomFactor: 1.2, maxRetransmit: 2 };

export interface SeenRegister {
  id: string;
  query: string[];
  links: Link[];
  peer: CoapPeerAddress;
}

export interface SeenUpdate {
  id: string;
  query: string[];
  links: Link[] | undefined;
}

/**
 * A minimal LwM2M server for tests: the registration interface on `rd` (every Register
 * accepted, Updates answered as told) and requests to the client through the node's CoapClient.
 */
export class TestLwm2mServer {
  readonly registers: SeenRegister[] = [];
  readonly updates: SeenUpdate[] = [];
  readonly deregisters: string[] = [];
  /** The answer to the next Updates (e.g. '4.04'); 'silent' leaves them unanswered. */
  updateAnswer: string | 'silent' | undefined;
  /** The answer to Registers instead of 2.01 (e.g. '4.03'). */
  registerAnswer: string | undefined;
  /** Registers answered with `registerAnswer`. */
  refused = 0;
  private counter = 0;

  private constructor(readonly node: CoapNode) {
    node.route('rd', (req, res) => {
      const [, id] = req.path;
      const payload = req.raw.payload ?? Buffer.alloc(0);
      const links = payload.length > 0 ? decodeLinks(payload) : undefined;
      if (req.method === 'POST' && id === undefined) {
        if (this.registerAnswer) {
          this.refused++;
          return respond(res, this.registerAnswer);
        }
        const rid = `r${++this.counter}`;
        this.registers.push({ id: rid, query: req.query, links: links ?? [], peer: peerOf(req.peer) });
        res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(rid)]);
        respond(res, '2.01');
      } else if (req.method === 'POST' && id !== undefined) {
        this.updates.push({ id, query: req.query, links });
        if (this.updateAnswer === 'silent') return void (res._ackTimer && clearTimeout(res._ackTimer));
        respond(res, this.updateAnswer ?? (id === this.last?.id ? '2.04' : '4.04'));
      } else if (req.method === 'DELETE' && id !== undefined) {
        this.deregisters.push(id);
        respond(res, '2.02');
      } else {
        respond(res, '4.05');
      }
    });
  }

  static async start(): Promise<TestLwm2mServer> {
    return new TestLwm2mServer(await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, transmission: FAST }));
  }

  get uri(): string {
    return this.node.url;
  }

  get last(): SeenRegister | undefined {
    return this.registers.at(-1);
  }

  /** A request to the client at the address it last registered from. */
  request(spec: CoapRequestSpec, timeoutMs = 2000): Promise<CoapResponse> {
    const peer = this.last?.peer;
    if (!peer) throw new Error('no client registered');
    return this.node.client.request(peer, spec, { timeoutMs });
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

function peerOf(info: AddressInfo): CoapPeerAddress {
  return { address: info.address, port: info.port };
}

const r = (path: string, type: LwM2mRecord['type'], value: LwM2mRecord['value']): LwM2mRecord => ({ path: LwM2mPath.parse(path), type, value });

/** Security instance `securityId` (NoSec, mode 3) and Server instance `serverId` of a DM server at `uri`. */
export function securityRecords(uri: string, securityId = 1, ssid = 1): LwM2mRecord[] {
  const s = `/0/${securityId}`;
  return [
    r(`${s}/0`, 'string', uri),
    r(`${s}/1`, 'boolean', false),
    r(`${s}/2`, 'integer', 3),
    r(`${s}/3`, 'opaque', new Uint8Array(0)),
    r(`${s}/4`, 'opaque', new Uint8Array(0)),
    r(`${s}/5`, 'opaque', new Uint8Array(0)),
    r(`${s}/10`, 'integer', ssid),
  ];
}

export function serverRecords(lifetime: number, opts: { serverId?: number; ssid?: number; storing?: boolean; binding?: string } = {}): LwM2mRecord[] {
  const s = `/1/${opts.serverId ?? 0}`;
  return [
    r(`${s}/0`, 'integer', opts.ssid ?? 1),
    r(`${s}/1`, 'integer', lifetime),
    r(`${s}/6`, 'boolean', opts.storing ?? true),
    r(`${s}/7`, 'string', opts.binding ?? 'U'),
  ];
}

export interface TestAgent {
  binding: Lwm2mBinding;
  objects: AgentObjects;
  observations: ObservationManager;
  host: SimulatedHost;
  calls: string[];
  events: string[];
  /** Power cut (graceful false) or shutdown, then the state directory goes. */
  stop(graceful?: boolean): Promise<void>;
}

export interface TestAgentOptions {
  /** The factory bootstrap server URI. */
  bootstrapUri?: string;
  /** Provision a DM account at this URI before starting (no bootstrap). */
  dmUri?: string;
  lifetime?: number;
  storing?: boolean;
  binding?: Partial<Lwm2mBindingOptions>;
  /** Changes the tree before the binding starts. */
  prepare?: (objects: AgentObjects) => void;
}

/** An agent object tree on a simulated host with an LwM2M binding on loopback, started. */
export async function startAgent(o: TestAgentOptions): Promise<TestAgent> {
  const dir = tempDir('edgedm-lwm2m-');
  const host = new SimulatedHost({ serialNumber: 'SN-LWM2M', model: 'EDM-L', seed: 11 });
  const recorded = recordingActions();
  let binding: Lwm2mBinding | undefined;
  const objects = createAgentObjects({
    host,
    state: new StateStore(dir.path, testLog),
    factory: { endpoint: 'dev-1', secret: 'factory-secret-0123456789', bootstrapServerUri: o.bootstrapUri ?? 'coap://127.0.0.1:9' },
    supportedBindings: 'U',
    actions: {
      ...recorded.actions,
      registrationUpdate: () => {
        recorded.actions.registrationUpdate();
        binding?.registrationUpdate();
      },
    },
    log: testLog,
  });
  if (o.dmUri) {
    const written = await applyBootstrapWrite(objects, [...securityRecords(o.dmUri), ...serverRecords(o.lifetime ?? 60, { storing: o.storing ?? true })]);
    if (written.code !== '2.04') throw new Error(`provisioning failed: ${written.code} ${written.message ?? ''}`);
  }
  o.prepare?.(objects);
  const events: string[] = [];
  const observations = new ObservationManager({ tree: objects.tree, notify: (n) => binding?.notify(n) ?? false, log: testLog });
  binding = new Lwm2mBinding({
    endpoint: 'dev-1',
    objects,
    observations,
    reconnect: { minDelayMs: 50, maxDelayMs: 200 },
    events: {
      bootstrapped: () => events.push('bootstrapped'),
      registered: () => events.push('registered'),
      disconnected: (reason) => events.push(`disconnected: ${reason}`),
    },
    log: testLog,
    listen: { host: '127.0.0.1', port: 0 },
    transmission: FAST,
    requestTimeoutMs: 1000,
    bootstrapTimeoutMs: 3000,
    ...o.binding,
  });
  binding.start();
  const b = binding;
  return {
    binding: b,
    objects,
    observations,
    host,
    calls: recorded.calls,
    events,
    stop: async (graceful = false) => {
      observations.close();
      await b.stop(graceful);
      host.close();
      dir.remove();
    },
  };
}
