import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, describe, test } from 'node:test';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { CoapBinding, type CoapBindingOptions } from '../../agent/bindings/coap/coap-binding.js';
import { createAgentObjects, type AgentObjects } from '../../agent/objects/index.js';
import { ObservationManager } from '../../agent/observation/observation-manager.js';
import { StateStore } from '../../agent/state/state-store.js';
import type { CoapPeerAddress, CoapRequestSpec, CoapResponse } from '../../common/coap/coap-client.js';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond } from '../../common/coap/coap-response.js';
import type { Logger } from '../../common/logger.js';
import { decodeBlock, encodeUint } from '../../protocol/coap/index.js';
import { decodeContent, decodeLinks, LwM2mContentFormat } from '../../protocol/lwm2m/index.js';
import { findRecord, LwM2mPath, type Link } from '../../protocol/model/index.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { capturingLogger, tempDir, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { FAST } from './lwm2m-support.js';
import { recordingActions } from './objects.js';

interface SeenRegistration {
  id: string;
  path: string[];
  query: string[];
  links: Link[];
  contentFormat: number | undefined;
}

/**
 * A minimal CoRE Resource Directory: `/.well-known/core` names it at `rdPath` (or answers 4.04
 * when `advertise` is off), registrations get `reg/{n}` locations, updates and removals
 * (at `reg/{n}`) recorded and answered as told.
 */
class TestDirectory {
  readonly registrations: SeenRegistration[] = [];
  readonly updates: { id: string; query: string[] }[] = [];
  readonly removals: string[] = [];
  discoveries = 0;
  /** The answer to updates instead of 2.04 (e.g. '4.04': the directory forgot the endpoint). */
  updateAnswer: string | undefined;
  private counter = 0;

  private constructor(
    readonly node: CoapNode,
    rdPath: string,
    advertise: boolean,
  ) {
    node.route('.well-known', (req, res) => {
      this.discoveries++;
      if (!advertise) return respond(res, '4.04');
      const filter = req.query.join('&');
      respond(res, '2.05', Buffer.from(filter === 'rt=core.rd' ? `</${rdPath}>;rt=core.rd;ct=40` : `</${rdPath}>;rt=core.rd;ct=40,</other>`), [['Content-Format', encodeUint(40)]]);
    });
    node.route(rdPath, (req, res) => {
      const payload = req.raw.payload ?? Buffer.alloc(0);
      const format = req.option('Content-Format');
      if (req.method === 'POST' && req.path.length === 1) {
        const id = `r${++this.counter}`;
        this.registrations.push({ id, path: req.path, query: req.query, links: decodeLinks(payload), contentFormat: format && format.length ? format.readUIntBE(0, format.length) : format ? 0 : undefined });
        return respond(res, '2.01', Buffer.alloc(0), [
          ['Location-Path', Buffer.from('reg')],
          ['Location-Path', Buffer.from(id)],
        ]);
      }
      respond(res, '4.05');
    });
    node.route('reg', (req, res) => {
      const id = req.path[1]!;
      if (req.method === 'POST') {
        this.updates.push({ id, query: req.query });
        return respond(res, this.updateAnswer ?? '2.04');
      }
      if (req.method === 'DELETE') {
        this.removals.push(id);
        return respond(res, '2.02');
      }
      respond(res, '4.05');
    });
  }

  static async start(rdPath = 'dir', advertise = true): Promise<TestDirectory> {
    return new TestDirectory(await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, transmission: FAST }), rdPath, advertise);
  }

  get last(): SeenRegistration | undefined {
    return this.registrations.at(-1);
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

interface TestCoapAgent {
  binding: CoapBinding;
  objects: AgentObjects;
  peer: CoapPeerAddress;
  events: string[];
  stop(graceful?: boolean): Promise<void>;
}

async function startCoapAgent(rdUri: string, options: Partial<CoapBindingOptions> & { log?: Logger } = {}): Promise<TestCoapAgent> {
  const dir = tempDir('edgedm-coap-');
  const host = new SimulatedHost({ serialNumber: 'SN-COAP', model: 'EDM-C', seed: 5 });
  let binding: CoapBinding | undefined;
  const objects = createAgentObjects({
    host,
    state: new StateStore(dir.path, testLog),
    factory: { endpoint: 'coap-1', secret: '', bootstrapServerUri: rdUri },
    supportedBindings: 'U',
    actions: recordingActions().actions,
    log: testLog,
  });
  const events: string[] = [];
  const observations = new ObservationManager({ tree: objects.tree, notify: (n) => binding?.notify(n) ?? false, log: testLog });
  binding = new CoapBinding({
    endpoint: 'coap-1',
    objects,
    observations,
    resourceDirectoryUri: rdUri,
    reconnect: { minDelayMs: 50, maxDelayMs: 200 },
    events: {
      bootstrapped: () => events.push('bootstrapped'),
      registered: () => events.push('registered'),
      disconnected: (reason) => events.push(`disconnected: ${reason}`),
    },
    log: options.log ?? testLog,
    listen: { host: '127.0.0.1', port: 0 },
    transmission: FAST,
    requestTimeoutMs: 1000,
    lifetimeSeconds: 60,
    ...options,
  });
  binding.start();
  const b = binding;
  await waitFor('the binding listening', () => b.url);
  const port = Number(new URL(b.url!).port);
  return {
    binding: b,
    objects,
    peer: { address: '127.0.0.1', port },
    events,
    stop: async (graceful = false) => {
      observations.close();
      await b.stop(graceful);
      host.close();
      dir.remove();
    },
  };
}

const p = LwM2mPath.parse;

describe('plain CoAP binding: Resource Directory registration', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function setup(rdPath = 'dir', advertise = true, options: Partial<CoapBindingOptions> = {}) {
    const directory = await TestDirectory.start(rdPath, advertise);
    const agent = await startCoapAgent(directory.node.url, options);
    cleanups.push(() => directory.close(), () => agent.stop(false));
    await waitFor('registration', () => agent.binding.registered && directory.last);
    return { directory, agent };
  }

  test('finds the registration interface through /.well-known/core?rt=core.rd and registers ep, lt and its instances in link format', async () => {
    const { directory, agent } = await setup('dir');
    const reg = directory.last!;
    assert.deepEqual(reg.path, ['dir']);
    assert.deepEqual(reg.query, ['ep=coap-1', 'lt=60']);
    assert.equal(reg.contentFormat, LwM2mContentFormat.LINK);
    const device = reg.links.find((l) => l.target === '/3/0');
    assert.deepEqual(device?.attributes, { rt: 'urn:oma:lwm2m:oma:3:1.2', ct: '112 110', obs: undefined });
    assert.ok(reg.links.some((l) => l.target === '/4/0'));
    assert.ok(!reg.links.some((l) => l.target.startsWith('/0') || l.target.startsWith('/32769')), 'the Security object and the trust anchor stay private');
    assert.deepEqual(agent.events, ['registered']);
  });

  test('a directory that does not advertise itself is asked at /rd', async () => {
    const { directory } = await setup('rd', false);
    assert.equal(directory.discoveries, 1);
    assert.deepEqual(directory.last!.path, ['rd']);
  });

  test('a directory URI with a path is used as given, without discovery', async () => {
    const directory = await TestDirectory.start('given');
    const agent = await startCoapAgent(`${directory.node.url}/given`);
    cleanups.push(() => directory.close(), () => agent.stop(false));
    await waitFor('registration', () => directory.last);
    assert.equal(directory.discoveries, 0);
  });

  test('updates before the lifetime runs out; a 4.04 update makes it register again', async () => {
    const { directory, agent } = await setup('dir', true, { updateIntervalMs: 150 });
    await waitFor('an update', () => directory.updates.length >= 2);
    assert.deepEqual(directory.updates[0], { id: directory.last!.id, query: [] });
    directory.updateAnswer = '4.04';
    const before = directory.registrations.length;
    await waitFor('registered again', () => directory.registrations.length > before);
    directory.updateAnswer = undefined;
    assert.ok(agent.events.some((e) => e.startsWith('disconnected: registration update refused')), agent.events.join('; '));
  });

  test('a graceful stop removes the registration; a power cut says nothing', async () => {
    const { directory, agent } = await setup();
    await agent.stop(true);
    assert.deepEqual(directory.removals, [directory.last!.id]);
    const second = await setup();
    await second.agent.stop(false);
    assert.deepEqual(second.directory.removals, []);
  });
});

describe('plain CoAP binding: serving the object tree', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function setup(options: Partial<CoapBindingOptions> & { log?: Logger } = {}) {
    const directory = await TestDirectory.start();
    const agent = await startCoapAgent(directory.node.url, options);
    // Any peer may manage a NoSec device: this one never registered anything.
    const manager = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, transmission: FAST });
    cleanups.push(() => manager.close(), () => directory.close(), () => agent.stop(false));
    await waitFor('registration', () => agent.binding.registered);
    const request = (spec: CoapRequestSpec, opts: { followBlock2?: boolean } = {}): Promise<CoapResponse> => manager.client.request(agent.peer, spec, { timeoutMs: 2000, ...opts });
    return { agent, manager, request };
  }

  test('/.well-known/core: link format with rt, ct and obs, block-wise (RFC 7959) when large, filtered by the query', async () => {
    const { request } = await setup();
    const first = await request({ method: 'GET', path: ['.well-known', 'core'] }, { followBlock2: false });
    assert.equal(first.code, '2.05');
    assert.equal(first.contentFormat, LwM2mContentFormat.LINK);
    const block = decodeBlock(first.option('Block2')!);
    assert.ok(block && block.num === 0 && block.more, 'the discovery document is larger than one block');
    const whole = await request({ method: 'GET', path: ['.well-known', 'core'] });
    const links = decodeLinks(whole.payload);
    const byTarget = new Map(links.map((l) => [l.target, l.attributes]));
    assert.deepEqual(byTarget.get('/3/0/0'), { ct: '0', obs: undefined });
    assert.deepEqual(byTarget.get('/3/0/4'), {}, 'an executable takes POST: no ct, no obs');
    assert.deepEqual(byTarget.get('/3/0/6'), { dim: byTarget.get('/3/0/6')!.dim, ct: '112 110', obs: undefined }, 'a multiple resource reads as SenML');
    assert.ok(!links.some((l) => l.target.startsWith('/0/')), 'the Security object stays private');
    const filtered = await request({ method: 'GET', path: ['.well-known', 'core'], query: ['rt=urn:oma:lwm2m:oma:3:*'] });
    assert.deepEqual(decodeLinks(filtered.payload).map((l) => l.target), ['/3', '/3/0']);
    const put = await request({ method: 'PUT', path: ['.well-known', 'core'], payload: Buffer.from('x') });
    assert.equal(put.code, '4.05');
  });

  test('reads: text/plain for one resource, SenML CBOR for an instance without Accept, SenML JSON or TLV by Accept', async () => {
    const { request } = await setup();
    const one = await request({ method: 'GET', path: ['3', '0', '2'] });
    assert.equal(one.contentFormat, LwM2mContentFormat.TEXT);
    assert.equal(one.payload.toString(), 'SN-COAP');
    const instance = await request({ method: 'GET', path: ['3', '0'] });
    assert.equal(instance.contentFormat, LwM2mContentFormat.SENML_CBOR);
    assert.equal(findRecord(decodeContent(LwM2mContentFormat.SENML_CBOR, instance.payload, p('/3/0')), '/3/0/2')?.value, 'SN-COAP');
    for (const format of [LwM2mContentFormat.SENML_JSON, LwM2mContentFormat.TLV]) {
      const res = await request({ method: 'GET', path: ['3', '0'], options: [['Accept', encodeUint(format)]] });
      assert.equal(res.contentFormat, format);
    }
    const missing = await request({ method: 'GET', path: ['sensors', 'temp'] });
    assert.equal(missing.code, '4.04');
  });

  test('write, execute and Observe (RFC 7641): notifications carry each new value', async () => {
    const { request, manager, agent } = await setup();
    const write = await request({ method: 'PUT', path: ['3', '0', '14'], payload: Buffer.from('+01:00') });
    assert.equal(write.code, '2.04');
    const seen: string[] = [];
    const observation = await manager.client.observe(agent.peer, { method: 'GET', path: ['3', '0', '14'] }, { timeoutMs: 2000 }, (n) => seen.push(n.payload.toString()));
    assert.ok(observation.established);
    assert.equal(observation.response.payload.toString(), '+01:00');
    await request({ method: 'PUT', path: ['3', '0', '14'], payload: Buffer.from('+02:00') });
    await waitFor('a notification', () => seen.includes('+02:00'));
    await observation.cancel({ timeoutMs: 2000 });
    const executed = await request({ method: 'POST', path: ['3', '0', '12'] });
    assert.equal(executed.code, '2.04');
  });

  test('a duplicate Confirmable request (same message id) is performed once and answered alike (RFC 7252 §4.5)', async () => {
    const { agent } = await setup();
    let executions = 0;
    const tree = agent.objects.tree;
    const handle = tree.handle.bind(tree);
    tree.handle = async (op, role) => {
      if (op.kind === 'execute') {
        executions++;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      return handle(op, role);
    };
    const socket = createSocket('udp4');
    cleanups.push(() => new Promise((resolve) => socket.close(() => resolve())));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const answers: ParsedPacket[] = [];
    socket.on('message', (msg) => answers.push(parse(msg)));
    const datagram = generate({
      code: 'POST',
      confirmable: true,
      messageId: 4242,
      token: Buffer.from('dup-test'),
      options: ['3', '0', '12'].map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(s) })),
    });
    const send = (d: Buffer) => new Promise<void>((resolve) => socket.send(d, agent.peer.port, agent.peer.address, () => resolve()));
    await send(datagram);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await send(datagram); // while the first copy is still being performed
    await waitFor('the answer', () => answers.length >= 1);
    await send(datagram); // after the answer went out
    await waitFor('the repeated answer', () => answers.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(executions, 1, 'executed once');
    assert.equal(answers.length, 2, 'the copy that came while performing is not answered twice');
    for (const a of answers) {
      assert.equal(a.code, '2.04');
      assert.equal(a.messageId, 4242);
      assert.ok(a.ack);
    }
  });

  test('a malformed datagram is dropped with a debug log, and the agent serves on', async () => {
    const captured = capturingLogger('debug');
    const { request, agent } = await setup({ log: captured.log });
    const socket = createSocket('udp4') as Socket;
    cleanups.push(() => new Promise((resolve) => socket.close(() => resolve())));
    const resets: Buffer[] = [];
    socket.on('message', (msg) => resets.push(msg));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    // Version 1, Confirmable, token length 15 (reserved: a format error), message id 0x1234.
    socket.send(Buffer.from([0x4f, 0x01, 0x12, 0x34, 0xff]), agent.peer.port, agent.peer.address);
    socket.send(Buffer.from([0x01, 0x02]), agent.peer.port, agent.peer.address);
    await waitFor('the log line', () => captured.entries().filter((e) => e.msg === 'malformed CoAP datagram dropped').length >= 2);
    await waitFor('a Reset for the Confirmable one', () => resets.length >= 1);
    assert.deepEqual([...resets[0]!], [0x70, 0x00, 0x12, 0x34]);
    const still = await request({ method: 'GET', path: ['3', '0', '2'] });
    assert.equal(still.payload.toString(), 'SN-COAP');
  });
});
