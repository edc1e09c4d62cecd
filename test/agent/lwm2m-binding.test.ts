import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { OptionName } from 'coap-packet';
import { LwM2mObject } from '../../agent/objects/index.js';
import { StoredInstance } from '../../agent/objects/stored-instance.js';
import { CoapTimeoutError, type CoapResponse } from '../../common/coap/coap-client.js';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond } from '../../common/coap/coap-response.js';
import { encodeUint } from '../../protocol/coap/index.js';
import { decodeContent, decodeLinks, encodeContent, LwM2mContentFormat } from '../../protocol/lwm2m/index.js';
import { findRecord, LwM2mPath, type LwM2mRecord } from '../../protocol/model/index.js';
import { defaultObjectRegistry } from '../../protocol/model/objects/index.js';
import { testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { FAST, securityRecords, serverRecords, startAgent, TestLwm2mServer, type TestAgent } from './lwm2m-support.js';

const p = LwM2mPath.parse;
const accept = (format: number): [OptionName, Buffer] => ['Accept', encodeUint(format)];
const contentFormat = (format: number): [OptionName, Buffer] => ['Content-Format', encodeUint(format)];
const records = (response: CoapResponse, path: string): LwM2mRecord[] => decodeContent(response.contentFormat!, response.payload, p(path));
const text = (s: string) => Buffer.from(s, 'utf8');

describe('LwM2M client binding: registration and device management', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function setup(options: Parameters<typeof startAgent>[0] = {}) {
    const server = await TestLwm2mServer.start();
    const agent = await startAgent({ dmUri: server.uri, ...options });
    cleanups.push(() => server.close(), () => agent.stop(false));
    await waitFor('registration', () => agent.binding.registered && server.last);
    return { server, agent };
  }

  test('registers with ep, lt, lwm2m=1.1, b=U and the object list in link format', async () => {
    const { server, agent } = await setup();
    const reg = server.last!;
    assert.deepEqual(reg.query, ['ep=dev-1', 'lt=60', 'lwm2m=1.1', 'b=U']);
    assert.deepEqual(reg.links[0], { target: '/', attributes: { rt: 'oma.lwm2m', ct: '110 112 11542' } });
    const targets = reg.links.slice(1).map((l) => l.target);
    assert.ok(targets.includes('/1/0') && targets.includes('/3/0') && targets.includes('/4/0'), targets.join(','));
    assert.ok(!targets.some((t) => t.startsWith('/0')), 'the Security object is never announced');
    assert.deepEqual(agent.events, ['registered']);
  });

  test('Read: TLV and SenML CBOR by Accept, TLV without; a single resource as text/plain; 4.06 for formats it cannot answer in', async () => {
    const { server, agent } = await setup();
    const manufacturer = agent.host.identity().manufacturer;
    for (const format of [LwM2mContentFormat.TLV, LwM2mContentFormat.SENML_CBOR, LwM2mContentFormat.SENML_JSON]) {
      const res = await server.request({ method: 'GET', path: ['3', '0'], options: [accept(format)] });
      assert.equal(res.code, '2.05');
      assert.equal(res.contentFormat, format);
      assert.equal(findRecord(records(res, '/3/0'), '/3/0/0')?.value, manufacturer);
      assert.equal(findRecord(records(res, '/3/0'), '/3/0/2')?.value, 'SN-LWM2M');
    }
    const plain = await server.request({ method: 'GET', path: ['3', '0'] });
    assert.equal(plain.contentFormat, LwM2mContentFormat.TLV);

    const resource = await server.request({ method: 'GET', path: ['3', '0', '0'] });
    assert.equal(resource.code, '2.05');
    assert.equal(resource.contentFormat, LwM2mContentFormat.TEXT);
    assert.equal(resource.payload.toString('utf8'), manufacturer);

    const multiple = await server.request({ method: 'GET', path: ['3', '0', '6'] });
    assert.equal(multiple.contentFormat, LwM2mContentFormat.TLV, 'a multiple resource without Accept is TLV');
    assert.equal((await server.request({ method: 'GET', path: ['3', '0', '6'], options: [accept(LwM2mContentFormat.TEXT)] })).code, '4.06');
    assert.equal((await server.request({ method: 'GET', path: ['3', '0'], options: [accept(LwM2mContentFormat.TEXT)] })).code, '4.06');
    assert.equal((await server.request({ method: 'GET', path: ['3', '0'], options: [accept(50)] })).code, '4.06');
  });

  test('errors: unknown paths 4.04, the Security object 4.01, a non-readable resource 4.05, unsupported formats 4.15, bad payloads 4.00', async () => {
    const { server } = await setup();
    assert.equal((await server.request({ method: 'GET', path: ['99', '0'] })).code, '4.04');
    assert.equal((await server.request({ method: 'GET', path: ['foo'] })).code, '4.04');
    assert.equal((await server.request({ method: 'GET', path: ['0', '1'] })).code, '4.01');
    assert.equal((await server.request({ method: 'GET', path: ['3', '0', '4'] })).code, '4.05');
    assert.equal((await server.request({ method: 'PUT', path: ['3', '0', '15'], options: [contentFormat(50)], payload: text('"x"') })).code, '4.15');
    const bad = await server.request({ method: 'PUT', path: ['1', '0'], options: [contentFormat(LwM2mContentFormat.TLV)], payload: Buffer.from([0xff]) });
    assert.equal(bad.code, '4.00');
    assert.match(bad.payload.toString('utf8'), /tlv/);
    assert.equal((await server.request({ method: 'PATCH', path: ['3', '0'] })).code, '4.05');
  });

  test('Write /1/0/1 then read it back; the new lifetime goes out in an Update', async () => {
    const { server } = await setup();
    const written = await server.request({ method: 'PUT', path: ['1', '0', '1'], options: [contentFormat(LwM2mContentFormat.TEXT)], payload: text('120') });
    assert.equal(written.code, '2.04');
    const read = await server.request({ method: 'GET', path: ['1', '0', '1'] });
    assert.equal(read.payload.toString('utf8'), '120');
    const update = await waitFor('an Update with the lifetime', () => server.updates.find((u) => u.query.includes('lt=120')));
    assert.equal(update.id, server.last!.id);
    assert.equal(update.links, undefined, 'the object list did not change');

    // A partial update of an instance (POST) in SenML JSON.
    const content: LwM2mRecord[] = [{ path: p('/1/0/3'), type: 'integer', value: 600 }];
    const partial = await server.request({
      method: 'POST',
      path: ['1', '0'],
      options: [contentFormat(LwM2mContentFormat.SENML_JSON)],
      payload: encodeContent(LwM2mContentFormat.SENML_JSON, content, p('/1/0')),
    });
    assert.equal(partial.code, '2.04');
    const instance = await server.request({ method: 'GET', path: ['1', '0'], options: [accept(LwM2mContentFormat.SENML_JSON)] });
    assert.equal(findRecord(records(instance, '/1/0'), '/1/0/3')?.value, 600);
    assert.equal(findRecord(records(instance, '/1/0'), '/1/0/1')?.value, 120, 'the rest of the instance is kept');
  });

  test('Execute /3/0/4 reboots, arguments go as the payload; Write-Attributes; Discover lists the resources with their attributes', async () => {
    const { server, agent } = await setup();
    const executed = await server.request({ method: 'POST', path: ['3', '0', '4'] });
    assert.equal(executed.code, '2.04');
    await waitFor('the reboot action', () => agent.calls.includes('reboot'), 2000);
    // Arguments travel as the payload: LogStop with 0='1' also clears the log (Event Log, object 20).
    agent.objects.eventLog.record({ class: 1, severity: 'info', message: 'something to clear' });
    assert.equal((await server.request({ method: 'POST', path: ['20', '0', '4012'], payload: text("0='1'") })).code, '2.04');
    assert.equal(agent.objects.eventLog.entries().length, 0);
    assert.equal((await server.request({ method: 'GET', path: ['20', '0', '4013'] })).payload.toString('utf8'), '1');

    const attrs = await server.request({ method: 'PUT', path: ['3', '0', '9'], query: ['pmin=1', 'pmax=30'] });
    assert.equal(attrs.code, '2.04');
    assert.equal((await server.request({ method: 'PUT', path: ['3', '0', '9'], query: ['pmin=soon'] })).code, '4.00');
    assert.equal((await server.request({ method: 'PUT', path: ['3', '0', '9'], query: ['epmin=1'] })).code, '4.00');

    const discover = await server.request({ method: 'GET', path: ['3', '0'], options: [accept(LwM2mContentFormat.LINK)] });
    assert.equal(discover.code, '2.05');
    assert.equal(discover.contentFormat, LwM2mContentFormat.LINK);
    const links = decodeLinks(discover.payload);
    assert.equal(links[0]!.target, '/3/0');
    assert.ok(links.some((l) => l.target === '/3/0/0'), 'the resources are listed');
    assert.deepEqual(links.find((l) => l.target === '/3/0/9')?.attributes, { pmin: '1', pmax: '30' });
    assert.equal(links.find((l) => l.target === '/3/0/6')?.attributes.dim, '1');
  });

  test('Create an instance where the tree allows it (Location-Path of the new instance), then Delete it; each one an Update', async () => {
    const definition = defaultObjectRegistry.get(2)!;
    const { server } = await setup({
      prepare: (objects) => objects.tree.add(new LwM2mObject(definition, { createInstance: (id) => new StoredInstance(definition, id), serverMayCreate: true })),
    });
    assert.ok(server.last!.links.some((l) => l.target === '/2'), 'an object without instances is announced');
    const content: LwM2mRecord[] = [
      { path: p('/2/7/2/1'), type: 'integer', value: 15 },
      { path: p('/2/7/3'), type: 'integer', value: 1 },
    ];
    const created = await server.request({
      method: 'POST',
      path: ['2'],
      options: [contentFormat(LwM2mContentFormat.SENML_CBOR)],
      payload: encodeContent(LwM2mContentFormat.SENML_CBOR, content, p('/2')),
    });
    assert.equal(created.code, '2.01');
    assert.deepEqual(created.locationPath, ['2', '7']);
    await waitFor('an Update with the new instance', () => server.updates.find((u) => u.links?.some((l) => l.target === '/2/7')));

    // A 1.0-style TLV Create: bare resources, the client picks the id.
    const tlv = encodeContent(LwM2mContentFormat.TLV, [{ path: p('/2/0/3'), type: 'integer', value: 2 }], p('/2/0'));
    const second = await server.request({ method: 'POST', path: ['2'], options: [contentFormat(LwM2mContentFormat.TLV)], payload: tlv });
    assert.equal(second.code, '2.01');
    assert.deepEqual(second.locationPath, ['2', '0']);

    // An answer larger than one datagram goes block-wise (the server's client follows Block2).
    const acl: LwM2mRecord[] = Array.from({ length: 200 }, (_, i) => ({ path: p(`/2/8/2/${i}`), type: 'integer' as const, value: i }));
    const big = await server.request({ method: 'POST', path: ['2'], options: [contentFormat(LwM2mContentFormat.SENML_JSON)], payload: encodeContent(LwM2mContentFormat.SENML_JSON, acl, p('/2')) });
    assert.equal(big.code, '2.01');
    const whole = await server.request({ method: 'GET', path: ['2', '8'], options: [accept(LwM2mContentFormat.SENML_JSON)] });
    assert.equal(whole.code, '2.05');
    assert.ok(whole.payload.length > 2048, `${whole.payload.length} bytes`);
    assert.deepEqual(records(whole, '/2/8').map((r) => r.value), acl.map((r) => r.value));
    const block1 = await server.node.client.request(server.last!.peer, { method: 'GET', path: ['2', '8'], options: [accept(LwM2mContentFormat.SENML_JSON), ['Block2', Buffer.from([0x16])]] }, { timeoutMs: 2000, followBlock2: false });
    assert.equal(block1.payload.length, 1024, 'block 1 of 1024 bytes, as asked');

    const read = await server.request({ method: 'GET', path: ['2', '7'], options: [accept(LwM2mContentFormat.SENML_JSON)] });
    assert.equal(findRecord(records(read, '/2/7'), '/2/7/2/1')?.value, 15);
    assert.equal((await server.request({ method: 'DELETE', path: ['2', '7'] })).code, '2.02');
    assert.equal((await server.request({ method: 'GET', path: ['2', '7'] })).code, '4.04');
    await waitFor('an Update without the instance', () => server.updates.find((u) => u.links && !u.links.some((l) => l.target === '/2/7')));
    assert.equal((await server.request({ method: 'POST', path: ['3'] })).code, '4.05', 'Device instances cannot be created');
    assert.equal((await server.request({ method: 'DELETE', path: ['3', '0'] })).code, '4.05');
  });

  test('Observe: the first value, then notifications in order on the same token; cancel with Observe 1 and by Reset', async () => {
    const { server, agent } = await setup();
    const peer = server.last!.peer;
    const notes: CoapResponse[] = [];
    const observation = await server.node.client.observe(
      peer,
      { method: 'GET', path: ['3', '0', '11'], options: [accept(LwM2mContentFormat.SENML_JSON)] },
      { timeoutMs: 2000 },
      (n) => notes.push(n),
    );
    assert.ok(observation.established, 'the observation is established');
    assert.equal(observation.response.contentFormat, LwM2mContentFormat.SENML_JSON);
    assert.deepEqual(records(observation.response, '/3/0/11').map((r) => r.value), [0]);
    assert.equal(agent.observations.size, 1);

    for (const code of [4, 8, 16]) {
      agent.objects.device.raiseError(code);
      await waitFor(`the notification of ${code}`, () => notes.some((n) => records(n, '/3/0/11').some((r) => r.value === code)), 2000);
    }
    assert.deepEqual(
      notes.map((n) => records(n, '/3/0/11').map((r) => r.value)),
      [[4], [4, 8], [4, 8, 16]],
    );
    assert.ok(notes.every((n) => n.contentFormat === LwM2mContentFormat.SENML_JSON), 'every notification in the Accept format');

    const cancelled = await observation.cancel({ timeoutMs: 2000 });
    assert.equal(cancelled?.code, '2.05', 'Observe 1 is answered as a GET');
    assert.equal(cancelled?.option('Observe'), undefined);
    assert.equal(agent.observations.size, 0);
    agent.objects.device.raiseError(32);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(notes.length, 3, 'nothing after the cancel');

    // A text/plain observation, forgotten by the server: the next notification is Reset, which ends it.
    assert.equal((await server.request({ method: 'PUT', path: ['3', '0', '15'], payload: text('Europe/Zurich') })).code, '2.04');
    const tz: CoapResponse[] = [];
    const second = await server.node.client.observe(peer, { method: 'GET', path: ['3', '0', '15'] }, { timeoutMs: 2000 }, (n) => tz.push(n));
    assert.equal(second.response.contentFormat, LwM2mContentFormat.TEXT);
    assert.equal(second.response.payload.toString('utf8'), 'Europe/Zurich');
    await second.cancel();
    await server.request({ method: 'PUT', path: ['3', '0', '15'], payload: text('Asia/Tokyo') });
    await waitFor('the observation to end at the Reset', () => agent.observations.size === 0, 2000);
    assert.equal(tz.length, 0);

    // An observation of something absent is refused without registering it.
    const refused = await server.node.client.observe(peer, { method: 'GET', path: ['3', '0', '99'] }, { timeoutMs: 2000 }, () => {});
    assert.equal(refused.established, false);
    assert.equal(refused.response.code, '4.04');
  });

  test('Update on registrationUpdate(); register again when an Update is answered 4.04 or not at all; De-register on a graceful stop', async () => {
    const { server, agent } = await setup();
    const first = server.last!.id;
    agent.binding.registrationUpdate();
    const update = await waitFor('an Update', () => server.updates[0]);
    assert.equal(update.id, first);
    assert.deepEqual(update.query, []);

    server.updateAnswer = '4.04';
    agent.binding.registrationUpdate();
    await waitFor('a new Register', () => server.registers.length === 2);
    await waitFor('registered again', () => agent.binding.registered);
    server.updateAnswer = undefined;
    assert.deepEqual(agent.events, ['registered', 'disconnected: registration update refused', 'registered']);

    server.updateAnswer = 'silent';
    agent.binding.registrationUpdate();
    await waitFor('a Register after unanswered Updates', () => server.registers.length === 3, 8000);
    assert.ok(server.updates.filter((u) => u.id === server.registers[1]!.id).length >= 3, 'the Update was tried again before');
    server.updateAnswer = undefined;
    await waitFor('registered again', () => agent.binding.registered);

    await agent.binding.stop(true);
    assert.deepEqual(server.deregisters, [server.last!.id]);
    assert.equal(agent.binding.registered, false);
  });

  test('Updates come before the lifetime runs out; a power cut sends nothing', async () => {
    const { server, agent } = await setup({ lifetime: 2 });
    await waitFor('two periodic Updates', () => server.updates.length >= 2, 4000);
    assert.ok(server.updates.every((u) => u.id === server.last!.id && u.query.length === 0), 'plain Updates of the one registration');
    await agent.binding.stop(false);
    assert.deepEqual(server.deregisters, []);
  });
});

describe('LwM2M client binding: queue mode', () => {
  let agent: TestAgent | undefined;
  let server: TestLwm2mServer | undefined;
  after(async () => {
    await agent?.stop(false);
    await server?.close();
  });

  test('registers with Q, answers while awake, then holds still until the next Update; notifications wait for it', async () => {
    server = await TestLwm2mServer.start();
    agent = await startAgent({ dmUri: server.uri, binding: { queueMode: true, queueAwakeMs: 500, updateIntervalMs: 2500 } });
    const a = agent;
    const s = server;
    await waitFor('registration', () => a.binding.registered && s.last);
    assert.deepEqual(s.last!.query, ['ep=dev-1', 'lt=60', 'lwm2m=1.1', 'b=U', 'Q']);

    // Awake right after Register: requests are answered, an observation is set up.
    assert.equal((await s.request({ method: 'PUT', path: ['3', '0', '15'], payload: text('Europe/Zurich') })).code, '2.04');
    const notes: string[] = [];
    const observation = await s.node.client.observe(s.last!.peer, { method: 'GET', path: ['3', '0', '15'] }, { timeoutMs: 1000 }, (n) => notes.push(n.payload.toString('utf8')));
    assert.ok(observation.established, 'the observation is established');

    await waitFor('sleep', () => a.binding.asleep, 2000);
    const updatesBefore = s.updates.length;
    await a.objects.tree.handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [{ path: p('/3/0/15'), type: 'string', value: 'Asia/Tokyo' }] });
    await assert.rejects(s.request({ method: 'GET', path: ['3', '0', '0'] }, 600), CoapTimeoutError, 'asleep: not even an ACK');
    assert.deepEqual(notes, [], 'the notification waits for the next Update');

    await waitFor('the next Update', () => s.updates.length > updatesBefore, 3000);
    await waitFor('the stored notification', () => notes.length === 1, 1000);
    assert.deepEqual(notes, ['Asia/Tokyo']);
    const read = await s.request({ method: 'GET', path: ['3', '0', '0'] });
    assert.equal(read.code, '2.05', 'awake again after the Update');
  });
});

describe('LwM2M client binding: client-initiated bootstrap', () => {
  let agent: TestAgent | undefined;
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    await agent?.stop(false);
    for (const c of closers) await c();
  });

  test('a bootstrap server that never finishes: the request is made again after the bootstrap timeout; a refused Register returns to bootstrap', async () => {
    const bs = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, transmission: FAST });
    const dm = await TestLwm2mServer.start();
    dm.registerAnswer = '4.03';
    const requests: number[] = [];
    bs.route('bs', (_req, res) => {
      requests.push(Date.now());
      respond(res, '2.04');
    });
    const quiet = await startAgent({ bootstrapUri: bs.url, binding: { bootstrapTimeoutMs: 300 } });
    await waitFor('a second Bootstrap-Request', () => requests.length >= 2, 3000);
    assert.ok(requests[1]! - requests[0]! >= 300, 'not before the timeout');
    assert.deepEqual(quiet.events, []);
    await quiet.stop(false);

    // With a DM account the server refuses, the client goes back to its bootstrap server.
    const refused = await startAgent({ bootstrapUri: bs.url, dmUri: dm.uri, binding: { bootstrapTimeoutMs: 300 } });
    const before = requests.length;
    await waitFor('a Bootstrap-Request after the refusal', () => requests.length > before, 3000);
    assert.equal(dm.refused, 1);
    assert.equal(refused.objects.eventLog.entries().at(-1)?.message, 'LwM2M registration refused');
    await refused.stop(false);
    await dm.close();
    await bs.close();
  });

  test('Bootstrap-Request, Delete, Writes in TLV and SenML CBOR, Discover, Read, Finish; then Register at the DM server', async () => {
    const dm = await TestLwm2mServer.start();
    closers.push(() => dm.close());
    const bs = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, transmission: FAST });
    closers.push(() => bs.close());

    const requests: string[][] = [];
    const answers: Record<string, CoapResponse> = {};
    let script: Promise<void> | undefined;
    bs.route('bs', (req, res) => {
      requests.push(req.query);
      respond(res, '2.04');
      const peer = { address: req.peer.address, port: req.peer.port };
      const send = (name: string, spec: Parameters<typeof bs.client.request>[1]) =>
        bs.client.request(peer, spec, { timeoutMs: 2000 }).then((r) => void (answers[name] = r));
      script ??= (async () => {
        await new Promise((r) => setImmediate(r));
        await send('delete', { method: 'DELETE' });
        const bootstrapAccount = [
          { path: p('/0/0/0'), type: 'string' as const, value: bs.url },
          { path: p('/0/0/1'), type: 'boolean' as const, value: true },
          { path: p('/0/0/2'), type: 'integer' as const, value: 3 },
        ];
        await send('write /0/0', { method: 'PUT', path: ['0', '0'], options: [contentFormat(LwM2mContentFormat.TLV)], payload: encodeContent(LwM2mContentFormat.TLV, bootstrapAccount, p('/0/0')) });
        await send('write /0/1', { method: 'PUT', path: ['0', '1'], options: [contentFormat(LwM2mContentFormat.TLV)], payload: encodeContent(LwM2mContentFormat.TLV, securityRecords(dm.uri), p('/0/1')) });
        await send('early finish', { method: 'POST', path: ['bs'] });
        await send('write /1/0', { method: 'PUT', path: ['1', '0'], options: [contentFormat(LwM2mContentFormat.SENML_CBOR)], payload: encodeContent(LwM2mContentFormat.SENML_CBOR, serverRecords(45), p('/1/0')) });
        await send('discover', { method: 'GET', options: [accept(LwM2mContentFormat.LINK)] });
        await send('read /1/0', { method: 'GET', path: ['1', '0'], options: [accept(LwM2mContentFormat.SENML_JSON)] });
        await send('read /3/0', { method: 'GET', path: ['3', '0'] });
        await send('finish', { method: 'POST', path: ['bs'] });
      })();
    });

    agent = await startAgent({ bootstrapUri: bs.url });
    const a = agent;
    await waitFor('registration at the DM server', () => a.binding.registered && dm.last, 5000);
    await script;
    assert.deepEqual(requests, [['ep=dev-1']]);
    assert.equal(answers['delete']?.code, '2.02');
    assert.equal(answers['write /0/0']?.code, '2.04');
    assert.equal(answers['write /0/1']?.code, '2.04');
    assert.equal(answers['early finish']?.code, '4.06', 'no Server instance yet');
    assert.equal(answers['write /1/0']?.code, '2.04');
    const discovered = answers['discover']!;
    assert.equal(discovered.contentFormat, LwM2mContentFormat.LINK);
    const links = discovered.payload.toString('utf8');
    assert.ok(links.startsWith('</>;lwm2m=1.1,'), links);
    assert.ok(links.includes(`</0/0>;uri="${bs.url}"`), links);
    assert.ok(links.includes(`</0/1>;ssid=1;uri="${dm.uri}"`), links);
    assert.ok(links.includes('</1/0>;ssid=1'), links);
    assert.ok(links.includes('</3/0>'), links);
    assert.equal(answers['read /1/0']?.code, '2.05');
    assert.equal(findRecord(records(answers['read /1/0']!, '/1/0'), '/1/0/1')?.value, 45);
    assert.equal(answers['read /3/0']?.code, '4.05', 'Bootstrap-Read is for the Server object');
    assert.equal(answers['finish']?.code, '2.04');

    assert.deepEqual(a.events, ['bootstrapped', 'registered']);
    assert.deepEqual(dm.last!.query, ['ep=dev-1', 'lt=45', 'lwm2m=1.1', 'b=U']);
    assert.equal(a.objects.security.bootstrapAccount().serverUri, bs.url, 'the bootstrap account stays');
    // The bootstrap server is no DM server: its requests are refused now.
    assert.equal((await bs.client.request(dm.last!.peer, { method: 'GET', path: ['3', '0', '0'] }, { timeoutMs: 2000 })).code, '4.01');
    assert.equal((await dm.request({ method: 'GET', path: ['3', '0', '0'] })).code, '2.05');
  });
});
