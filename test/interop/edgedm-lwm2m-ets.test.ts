import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ParsedPacket } from 'coap-packet';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import { encodeUint } from '../../protocol/coap/index.js';
import { decodeContent, decodeLinks, encodeContent, LwM2mContentFormat, parseAnnouncedFormats } from '../../protocol/lwm2m/index.js';
import { LwM2mPath, type Link, type LwM2mRecord } from '../../protocol/model/index.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { addFirmware, finished, type RolloutView } from '../support/rollouts.js';
import {
  describeDatagram,
  locationPathOf,
  methodOf,
  optionValues,
  RecordingUdpProxy,
  uintOption,
  uriPathOf,
  uriQueryOf,
  type RecordedExchange,
} from '../support/udp-recorder.js';
import { waitFor } from '../support/wait.js';

/**
 * Wire-level conformance of edgedm against itself: the agent as an LwM2M 1.1 client (bootstrapped
 * from a coap:// URI) managed by the gateway's LwM2M server, every datagram between them relayed
 * and recorded on loopback. Each test drives the server side as an operator would (the REST API)
 * and asserts on the CoAP messages what the OMA test description checks: type, code, Uri-Path,
 * Uri-Query, Accept, Content-Format, Location-Path, payloads and their decoded content.
 *
 * Test names carry the OMA-ETS-LightweightM2M-V1_0_1 interoperability id (int-1xx registration,
 * int-2xx device management, int-3xx information reporting) where one exists; the others name
 * the clause of the LwM2M 1.1 Core / Transport specification they check. Where the test
 * description has the server choose the Accept and the gateway's API does not let an operator
 * choose it (the gateway picks the format per client), the request is sent by the test from the
 * relay's port, i.e. from the client's DM server address, exactly as that server would send it.
 */

type Exchange = RecordedExchange & { response: NonNullable<RecordedExchange['response']> };
type ApiResult = { code: string; message?: string; content?: { path: string; value: unknown; type?: string }[]; links?: { target: string; attributes: Record<string, string | null> }[] };

const TIMEOUT_MS = 60_000;
const CF = LwM2mContentFormat;

describe('OMA LwM2M interoperability on the wire: the edgedm agent (1.1 client) against the edgedm gateway', { timeout: 600_000 }, () => {
  const dir = tempDir();
  const [identity] = testIdentities(1, 'ets');
  const ep = identity!.endpoint;
  let proxy: RecordingUdpProxy;
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  const op = (kind: string, body: Record<string, unknown>) => api<ApiResult>(gateway, 'POST', `/api/v1/devices/${ep}/${kind}`, { timeoutMs: 20_000, ...body });
  const client = () => proxy.lastClient()!;
  const trace = (mark = 0) => proxy.since(mark).map(describeDatagram).join('\n');

  /** The first exchange from `mark` on matching direction, method and path that was answered. */
  async function exchange(mark: number, direction: 'toClient' | 'toServer', method: string, path: string | RegExp, extra: (e: Exchange) => boolean = () => true): Promise<Exchange> {
    return proxy.waitFor(
      `${direction} ${method} ${String(path)} answered`,
      () =>
        proxy
          .exchanges(mark)
          .find(
            (e): e is Exchange =>
              !e.request.injected &&
              e.request.direction === direction &&
              methodOf(e.request.packet) === method &&
              (typeof path === 'string' ? uriPathOf(e.request.packet) === path : path.test(uriPathOf(e.request.packet))) &&
              e.response !== undefined &&
              extra(e as Exchange),
          ),
      TIMEOUT_MS,
    );
  }

  /** A request the client's DM server would send, from the server's address (the relay's port). */
  function ask(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, opts: { accept?: number; contentFormat?: number; payload?: Buffer; observe?: number } = {}): Promise<ParsedPacket> {
    return proxy.request(
      client(),
      {
        method,
        path,
        options: [
          ...(opts.observe !== undefined ? [{ name: 'Observe' as const, value: encodeUint(opts.observe) }] : []),
          ...(opts.contentFormat !== undefined ? [{ name: 'Content-Format' as const, value: encodeUint(opts.contentFormat) }] : []),
          ...(opts.accept !== undefined ? [{ name: 'Accept' as const, value: encodeUint(opts.accept) }] : []),
        ],
        ...(opts.payload ? { payload: opts.payload } : {}),
      },
      20_000,
    );
  }

  /** A request's whole content: Block2 blocks fetched and joined (RFC 7959) when the answer comes in pieces. */
  async function askAll(path: string, accept: number): Promise<{ first: ParsedPacket; payload: Buffer }> {
    const first = await ask('GET', path, { accept });
    const parts = [first.payload];
    let last = first;
    for (let num = 1; ; num++) {
      const block2 = uintOption(last, 'Block2');
      if (block2 === undefined || (block2 & 0x08) === 0) break;
      const szx = block2 & 0x07;
      last = await proxy.request(client(), { method: 'GET', path, options: [{ name: 'Accept', value: encodeUint(accept) }, { name: 'Block2', value: encodeUint(num * 16 + szx) }] }, 20_000);
      assert.equal(last.code, '2.05', `block ${num}`);
      parts.push(last.payload);
    }
    return { first, payload: Buffer.concat(parts) };
  }

  const typeOf = (p: ParsedPacket) => (p.reset ? 'RST' : p.ack ? 'ACK' : p.confirmable ? 'CON' : 'NON');
  const cfOf = (p: ParsedPacket) => uintOption(p, 'Content-Format');
  const queryMap = (p: ParsedPacket) => new Map(uriQueryOf(p).map((q) => (q.includes('=') ? [q.slice(0, q.indexOf('=')), q.slice(q.indexOf('=') + 1)] : [q, undefined])));
  const records = (format: number, payload: Buffer, path: string) => new Map(decodeContent(format, payload, LwM2mPath.parse(path)).map((r) => [r.path.toString(), normalise(r.value)]));
  const registrationId = () => gateway.lwm2m!.registration(ep)?.id;

  before(async () => {
    proxy = await new RecordingUdpProxy(0).start();
    gateway = await startGateway(`${dir.path}/gw`, {
      // The DM server account handed out at bootstrap names the relay too: every datagram of the session crosses it.
      lwm2m: { ...DEFAULT_GATEWAY_CONFIG.lwm2m, serverUri: proxy.url },
      devices: { ...DEFAULT_GATEWAY_CONFIG.devices, requestTimeoutMs: 20_000 },
      rollouts: { pollIntervalMs: 150 },
    });
    proxy.targetPort = gateway.coapPort!;
    gateway.devices.importFactoryIdentities([identity!]);
    fleet = SimulatedFleet.start({
      identities: [identity!],
      bootstrapServerUri: proxy.url,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
      firmware: { healthDeadlineMs: 5000, retryDelayMs: 100 },
      log: testLog,
    });
    await fleet.whenAllRegistered(TIMEOUT_MS);
    await waitFor('identity synced', () => gateway.repository.get(ep)?.serialNumber === identity!.serialNumber, TIMEOUT_MS);
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    await proxy?.close();
    dir.remove();
  });

  test('Core §6.1 Client-Initiated Bootstrap: POST /bs?ep → 2.04, Bootstrap-Delete /, Bootstrap-Write of the NoSec account in TLV, Bootstrap-Finish → 2.04, then Register', async () => {
    const all = proxy.exchanges(0);
    const request = all.find((e) => e.request.direction === 'toServer' && methodOf(e.request.packet) === 'POST' && uriPathOf(e.request.packet) === '/bs');
    assert.ok(request?.response, trace());
    assert.equal(typeOf(request.request.packet), 'CON');
    assert.deepEqual(uriQueryOf(request.request.packet), [`ep=${ep}`]);
    assert.equal(request.response.packet.code, '2.04');
    assert.equal(typeOf(request.response.packet), 'ACK');

    const fromServer = all.filter((e) => e.request.direction === 'toClient' && e.request.seq > request.request.seq);
    const finish = fromServer.find((e) => methodOf(e.request.packet) === 'POST' && uriPathOf(e.request.packet) === '/bs');
    assert.ok(finish?.response, trace());
    const sequence = fromServer.filter((e) => e.request.seq <= finish.request.seq);
    // Bootstrap-Delete of "/" first (Uri-Path absent), answered 2.02 Deleted.
    assert.equal(methodOf(sequence[0]!.request.packet), 'DELETE');
    assert.equal(uriPathOf(sequence[0]!.request.packet), '/');
    assert.equal(sequence[0]!.response?.packet.code, '2.02');

    const writes = sequence.filter((e) => methodOf(e.request.packet) === 'PUT');
    assert.deepEqual(writes.map((e) => uriPathOf(e.request.packet)), ['/0/1', '/1/0', '/32769/0']);
    for (const w of writes) {
      assert.equal(typeOf(w.request.packet), 'CON');
      assert.equal(cfOf(w.request.packet), CF.TLV, `Bootstrap-Write ${uriPathOf(w.request.packet)} in TLV`);
      assert.ok(w.request.packet.payload.length > 0);
      assert.equal(w.response?.packet.code, '2.04', uriPathOf(w.request.packet));
    }
    const security = records(CF.TLV, writes[0]!.request.packet.payload, '/0/1');
    assert.equal(security.get('/0/1/0'), proxy.url, 'LwM2M Server URI');
    assert.equal(security.get('/0/1/1'), false, 'not a bootstrap account');
    assert.equal(security.get('/0/1/2'), 3, 'Security Mode 3: NoSec');
    assert.equal(security.get('/0/1/10'), 1, 'Short Server ID');
    const server = records(CF.TLV, writes[1]!.request.packet.payload, '/1/0');
    assert.equal(server.get('/1/0/0'), 1, 'Short Server ID');
    assert.equal(server.get('/1/0/1'), DEFAULT_GATEWAY_CONFIG.devices.lifetimeSeconds, 'Lifetime');
    assert.equal(server.get('/1/0/7'), 'U', 'Binding');
    const anchor = records(CF.TLV, writes[2]!.request.packet.payload, '/32769/0');
    assert.match(String(anchor.get('/32769/0/0')), /^hex:[0-9a-f]{40,}$/, 'the firmware trust anchor');

    assert.equal(finish.response.packet.code, '2.04', 'Bootstrap-Finish');
    assert.ok(sequence.every((e) => e.request.client === request.request.client), 'the bootstrap server speaks to the address the Bootstrap-Request came from');
    const register = all.find((e) => e.request.direction === 'toServer' && methodOf(e.request.packet) === 'POST' && uriPathOf(e.request.packet) === '/rd');
    assert.ok(register && register.request.seq > finish.request.seq, 'Register after Bootstrap-Finish');
  });

  test('int-101 Initial Registration: POST /rd?ep&lt&lwm2m=1.1&b=U, Content-Format 40 with the object links → 2.01 Created with Location-Path rd/{id}', async () => {
    const register = proxy.exchanges(0).find((e) => e.request.direction === 'toServer' && methodOf(e.request.packet) === 'POST' && uriPathOf(e.request.packet) === '/rd');
    assert.ok(register?.response, trace());
    const req = register.request.packet;
    assert.equal(typeOf(req), 'CON');
    const q = queryMap(req);
    assert.equal(q.get('ep'), ep);
    assert.equal(q.get('lt'), String(DEFAULT_GATEWAY_CONFIG.devices.lifetimeSeconds), 'the lifetime bootstrapped into /1/0/1');
    assert.equal(q.get('lwm2m'), '1.1');
    assert.equal(q.get('b'), 'U');
    assert.equal(q.has('Q'), false, 'not in queue mode');
    assert.equal(cfOf(req), CF.LINK);
    const links = decodeLinks(req.payload);
    const root = links.find((l) => l.target === '/');
    assert.equal(unquote(root?.attributes.rt), 'oma.lwm2m', req.payload.toString());
    assert.deepEqual(parseAnnouncedFormats(unquote(root?.attributes.ct)), [CF.SENML_JSON, CF.SENML_CBOR, CF.TLV]);
    const targets = links.map((l) => l.target);
    for (const t of ['/1/0', '/3/0', '/4/0', '/5/0', '/20/0']) assert.ok(targets.includes(t), `${t} in ${req.payload.toString()}`);
    assert.ok(!targets.some((t) => t.startsWith('/0/') || t === '/0' || t.startsWith('/32769')), 'Security and the trust anchor are not announced');

    const res = register.response.packet;
    assert.equal(res.code, '2.01');
    assert.equal(typeOf(res), 'ACK');
    assert.equal(res.messageId, req.messageId);
    assert.deepEqual(locationPathOf(res), ['rd', registrationId()]);
    const record = gateway.repository.get(ep)!;
    assert.deepEqual([record.status, record.transport, record.lwm2mVersion, record.binding], ['online', 'lwm2m', '1.1', 'U']);
  });

  test('int-201 Querying basic information in Plain Text: GET /3/0/0, /3/0/1, /3/0/2 → 2.05, Content-Format 0, the manufacturer, model and serial number', async () => {
    const expected: Record<string, string> = { '/3/0/0': 'edgedm simulated devices', '/3/0/1': identity!.model, '/3/0/2': identity!.serialNumber };
    for (const [path, value] of Object.entries(expected)) {
      const mark = proxy.mark();
      const read = await op('read', { path });
      assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
      assert.equal(read.body.content?.[0]?.value, value);
      const e = await exchange(mark, 'toClient', 'GET', path);
      assert.equal(typeOf(e.request.packet), 'CON');
      const accept = uintOption(e.request.packet, 'Accept');
      assert.ok(accept === undefined || accept === CF.TEXT, `the server asks for text/plain or lets the client pick it (Accept ${accept})`);
      assert.equal(e.response.packet.code, '2.05');
      assert.equal(cfOf(e.response.packet), CF.TEXT, path);
      assert.equal(e.response.packet.payload.toString('utf8'), value);
      // Also with the Accept the test description has the server send.
      const asked = await ask('GET', path, { accept: CF.TEXT });
      assert.deepEqual([asked.code, cfOf(asked), asked.payload.toString('utf8')], ['2.05', CF.TEXT, value]);
    }
  });

  test('int-203 Querying the Device object in TLV: GET /3/0, Accept 11542 → 2.05, Content-Format 11542 with resources 0, 1, 2, 3, 11, 16', async () => {
    const { first, payload } = await askAll('/3/0', CF.TLV);
    assert.equal(first.code, '2.05');
    assert.equal(typeOf(first), 'ACK');
    assert.equal(cfOf(first), CF.TLV);
    const r = records(CF.TLV, payload, '/3/0');
    assert.equal(r.get('/3/0/0'), 'edgedm simulated devices');
    assert.equal(r.get('/3/0/1'), identity!.model);
    assert.equal(r.get('/3/0/2'), identity!.serialNumber);
    assert.equal(r.get('/3/0/3'), gateway.repository.get(ep)!.firmwareVersion);
    assert.ok([...r.keys()].some((p) => p.startsWith('/3/0/11/')), `Error Code instances in ${[...r.keys()].join(' ')}`);
    assert.equal(r.get('/3/0/16'), 'U', 'Supported Binding and Modes');
  });

  test('int-204 Querying the Device object in JSON: GET /3/0, Accept 11543 → 2.05, Content-Format 11543 with resources 0, 1, 2, 3, 11, 16', async () => {
    const { first, payload } = await askAll('/3/0', CF.JSON);
    assert.equal(first.code, '2.05');
    assert.equal(cfOf(first), CF.JSON);
    const doc = JSON.parse(payload.toString('utf8')) as { bn?: string; e: { n: string }[] };
    assert.ok(Array.isArray(doc.e), payload.toString());
    const r = records(CF.JSON, payload, '/3/0');
    assert.equal(r.get('/3/0/0'), 'edgedm simulated devices');
    assert.equal(r.get('/3/0/1'), identity!.model);
    assert.equal(r.get('/3/0/2'), identity!.serialNumber);
    assert.equal(r.get('/3/0/3'), gateway.repository.get(ep)!.firmwareVersion);
    assert.ok([...r.keys()].some((p) => p.startsWith('/3/0/11/')));
    assert.equal(r.get('/3/0/16'), 'U');
  });

  test('Transport §6.4 content formats: GET /3/0 with Accept 11542, 11543, 110 and 112 answers in each and decodes to the same records', async () => {
    const decoded = new Map<number, Map<string, unknown>>();
    for (const format of [CF.TLV, CF.JSON, CF.SENML_JSON, CF.SENML_CBOR]) {
      const { first, payload } = await askAll('/3/0', format);
      assert.equal(first.code, '2.05', `Accept ${format}`);
      assert.equal(cfOf(first), format, `Accept ${format} → Content-Format ${cfOf(first)}`);
      assert.ok(payload.length > 0);
      decoded.set(format, records(format, payload, '/3/0'));
    }
    const tlv = decoded.get(CF.TLV)!;
    assert.ok(tlv.size >= 15, `${tlv.size} records`);
    for (const [format, r] of decoded) {
      assert.deepEqual([...r.keys()].sort(), [...tlv.keys()].sort(), `the same resources in ${format} as in TLV`);
      for (const [path, value] of tlv) {
        if (VOLATILE.has(path)) continue;
        assert.deepEqual(r.get(path), value, `${path} in ${format}`);
      }
    }
  });

  test('Transport §6.4 single resources: Accept 0 gives text/plain, Accept 42 gives the opaque bytes of an opaque resource; neither is a format for something else (4.06)', async () => {
    const text = await ask('GET', '/3/0/9', { accept: CF.TEXT });
    assert.deepEqual([text.code, cfOf(text)], ['2.05', CF.TEXT]);
    assert.match(text.payload.toString('utf8'), /^\d{1,3}$/, 'Battery Level as a decimal integer');

    const opaque = await ask('GET', '/20/0/4014', { accept: CF.OPAQUE });
    assert.deepEqual([opaque.code, cfOf(opaque)], ['2.05', CF.OPAQUE]);
    const viaApi = await op('read', { path: '/20/0/4014' });
    assert.equal(viaApi.body.code, '2.05');
    assert.ok(opaque.payload.length > 0, 'the Event Log has entries (boot, bootstrap)');
    assert.match(opaque.payload.toString('utf8'), / info \d+ /, 'LogData lines: time severity class message');

    const notOpaque = await ask('GET', '/3/0/0', { accept: CF.OPAQUE });
    assert.equal(notOpaque.code, '4.06', 'a string resource is not octet-stream');
    const instanceAsText = await ask('GET', '/3/0', { accept: CF.TEXT });
    assert.equal(instanceAsText.code, '4.06', 'text/plain carries one value, not an instance');
  });

  test('Core §6.3.1 Read of an instance through the API: the gateway asks in a format the client announced and the API gives what was on the wire', async () => {
    const mark = proxy.mark();
    const read = await op('read', { path: '/3/0' });
    assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
    const e = await exchange(mark, 'toClient', 'GET', '/3/0');
    const accept = uintOption(e.request.packet, 'Accept');
    const announced = gateway.lwm2m!.registration(ep)!.params.announcedFormats;
    assert.equal(accept, CF.SENML_CBOR, 'SenML CBOR: the first preferred format for a 1.1 client');
    assert.ok(announced.includes(accept), `Accept ${accept} is among the announced ${announced.join(' ')}`);
    assert.equal(e.response.packet.code, '2.05');
    assert.equal(cfOf(e.response.packet), accept);
    const wire = records(accept, e.response.packet.payload, '/3/0');
    const fromApi = new Map(read.body.content!.map((r) => [r.path, r.value]));
    assert.deepEqual([...fromApi.keys()].sort(), [...wire.keys()].sort());
    for (const p of ['/3/0/0', '/3/0/1', '/3/0/2', '/3/0/3', '/3/0/16']) assert.equal(fromApi.get(p), wire.get(p), p);
  });

  test('Core §6.3.3 Write (replace, PUT) of a resource: PUT /3/0/14, Content-Format 0 → 2.04, read back', async () => {
    const mark = proxy.mark();
    const write = await op('write', { path: '/3/0/14', value: '+02:00' });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const e = await exchange(mark, 'toClient', 'PUT', '/3/0/14');
    assert.equal(typeOf(e.request.packet), 'CON');
    assert.equal(cfOf(e.request.packet), CF.TEXT);
    assert.equal(e.request.packet.payload.toString('utf8'), '+02:00');
    assert.equal(e.response.packet.code, '2.04');
    const back = await ask('GET', '/3/0/14', { accept: CF.TEXT });
    assert.equal(back.payload.toString('utf8'), '+02:00');
  });

  test('Core §6.3.3 Write (partial update, POST) through the API: POST on the object instance with the resource, in a format the client announced → 2.04, read back', async () => {
    const mark = proxy.mark();
    const write = await op('write', { path: '/3/0/14', value: '+03:00', mode: 'update' });
    const sent = await proxy.waitFor('the partial update on the wire', () => proxy.exchanges(mark).find((x) => x.request.direction === 'toClient' && !x.request.injected && x.response), TIMEOUT_MS);
    const req = sent.request.packet;
    // Transport Table 6.4.3-1 (1.1): Write-Partial Update is POST /{Object}/{Instance}; POST on a resource is Execute.
    assert.equal(methodOf(req), 'POST');
    assert.equal(uriPathOf(req), '/3/0', `POST ${uriPathOf(req)} (Content-Format ${cfOf(req)}) is an Execute of ${uriPathOf(req)} to the client, not a Write; it answered ${sent.response?.packet.code}`);
    const format = cfOf(req)!;
    assert.ok(gateway.lwm2m!.registration(ep)!.params.announcedFormats.includes(format), `Content-Format ${format}`);
    assert.deepEqual([...records(format, req.payload, '/3/0')], [['/3/0/14', '+03:00']]);
    assert.equal(sent.response!.packet.code, '2.04');
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const back = await ask('GET', '/3/0/14', { accept: CF.TEXT });
    assert.equal(back.payload.toString('utf8'), '+03:00');
  });

  test('Core §6.3.3 Write (partial update, POST) of an instance: POST /3/0 in SenML CBOR with one resource changes it and leaves the others', async () => {
    const before = records(CF.SENML_CBOR, (await askAll('/3/0', CF.SENML_CBOR)).payload, '/3/0');
    const payload = Buffer.from(encodeContent(CF.SENML_CBOR, [{ path: LwM2mPath.parse('/3/0/14'), type: 'string', value: '-05:00' }], LwM2mPath.parse('/3/0')));
    const res = await ask('POST', '/3/0', { contentFormat: CF.SENML_CBOR, payload });
    assert.equal(res.code, '2.04', res.payload.toString());
    const after = records(CF.SENML_CBOR, (await askAll('/3/0', CF.SENML_CBOR)).payload, '/3/0');
    assert.equal(after.get('/3/0/14'), '-05:00');
    for (const p of ['/3/0/0', '/3/0/1', '/3/0/2', '/3/0/15']) assert.deepEqual(after.get(p), before.get(p), p);
  });

  test('Core §6.3 Write-Attributes: PUT /3/0/9?pmin=1&pmax=30 without payload → 2.04; Core §6.3 Discover: GET /3/0, Accept 40 → 2.05, Content-Format 40, the resources with those attributes', async () => {
    let mark = proxy.mark();
    const wa = await op('write-attributes', { path: '/3/0/9', attributes: { pmin: 1, pmax: 30 } });
    assert.equal(wa.body.code, '2.04', JSON.stringify(wa.body));
    const e = await exchange(mark, 'toClient', 'PUT', '/3/0/9');
    assert.deepEqual(uriQueryOf(e.request.packet).sort(), ['pmax=30', 'pmin=1']);
    assert.equal(e.request.packet.payload.length, 0);
    assert.equal(cfOf(e.request.packet), undefined);
    assert.equal(e.response.packet.code, '2.04');

    mark = proxy.mark();
    const discover = await op('discover', { path: '/3/0' });
    assert.equal(discover.body.code, '2.05', JSON.stringify(discover.body));
    const d = await exchange(mark, 'toClient', 'GET', '/3/0');
    assert.equal(uintOption(d.request.packet, 'Accept'), CF.LINK);
    assert.equal(d.response.packet.code, '2.05');
    assert.equal(cfOf(d.response.packet), CF.LINK);
    const links: Link[] = decodeLinks(d.response.packet.payload);
    const targets = links.map((l) => l.target);
    assert.equal(targets[0], '/3/0', d.response.packet.payload.toString());
    for (const t of ['/3/0/0', '/3/0/2', '/3/0/4', '/3/0/9', '/3/0/16']) assert.ok(targets.includes(t), `${t} in ${d.response.packet.payload.toString()}`);
    const battery = links.find((l) => l.target === '/3/0/9')!;
    assert.deepEqual([battery.attributes.pmin, battery.attributes.pmax], ['1', '30'], d.response.packet.payload.toString());
  });

  test('int-301 Observation and notification: GET /3/0/14 with Observe 0 → 2.05 with Observe; a change is notified on the same token with a larger Observe; cancelled with Observe 1', async () => {
    let mark = proxy.mark();
    const observed = await op('observe', { path: '/3/0/14' });
    assert.equal(observed.body.code, '2.05', JSON.stringify(observed.body));
    const current = observed.body.content?.[0]?.value;
    const o = await exchange(mark, 'toClient', 'GET', '/3/0/14');
    assert.equal(typeOf(o.request.packet), 'CON');
    assert.equal(uintOption(o.request.packet, 'Observe'), 0);
    assert.ok(o.request.packet.token.length > 0, 'an observation needs a token');
    assert.equal(o.response.packet.code, '2.05');
    const firstSeq = uintOption(o.response.packet, 'Observe');
    assert.notEqual(firstSeq, undefined, 'the answer carries Observe: the observation is established');
    assert.equal(cfOf(o.response.packet), CF.TEXT);
    assert.equal(o.response.packet.payload.toString('utf8'), current);
    const token = o.request.packet.token;

    const notifications = () =>
      proxy
        .since(mark)
        .filter((d) => d.direction === 'toServer' && d.packet && d.packet.code === '2.05' && d.packet.token.equals(token) && d.seq > o.response.seq)
        .map((d) => d.packet!);
    for (const value of ['+04:00', '+05:30']) {
      const write = await op('write', { path: '/3/0/14', value });
      assert.equal(write.body.code, '2.04');
      await proxy.waitFor(`notification of ${value}`, () => notifications().some((n) => n.payload.toString('utf8') === value), TIMEOUT_MS);
    }
    const seen = notifications();
    const values = seen.map((n) => n.payload.toString('utf8'));
    assert.deepEqual(values.filter((v, i) => values.indexOf(v) === i), ['+04:00', '+05:30'], values.join(' '));
    let previous = firstSeq!;
    for (const n of seen) {
      const seq = uintOption(n, 'Observe');
      assert.ok(seq !== undefined && seq > previous, `Observe ${seq} after ${previous}`);
      previous = seq;
      assert.equal(cfOf(n), CF.TEXT);
      assert.ok(!n.ack, 'a notification is its own message, not an ACK');
    }

    mark = proxy.mark();
    const cancel = await op('cancel-observe', { path: '/3/0/14' });
    assert.equal(cancel.body.code, '2.05', JSON.stringify(cancel.body));
    const c = await exchange(mark, 'toClient', 'GET', '/3/0/14');
    assert.equal(uintOption(c.request.packet, 'Observe'), 1, 'cancelled with Observe 1 (RFC 7641 §3.6)');
    assert.ok(c.request.packet.token.equals(token), 'on the observation\'s token');
    assert.equal(c.response.packet.code, '2.05');
    assert.equal(uintOption(c.response.packet, 'Observe'), undefined, 'the answer to a cancel is a plain read');
    mark = proxy.mark();
    await op('write', { path: '/3/0/14', value: '+01:00' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(
      proxy.since(mark).filter((d) => d.direction === 'toServer' && d.packet?.token.equals(token)).length,
      0,
      'no notification after the cancel',
    );
  });

  test('int-104 Registration Update Trigger: POST /1/0/8 → 2.04, then the client sends Update POST /rd/{id} → 2.04', async () => {
    const mark = proxy.mark();
    const id = registrationId();
    const exec = await op('execute', { path: '/1/0/8' });
    assert.equal(exec.body.code, '2.04', JSON.stringify(exec.body));
    const e = await exchange(mark, 'toClient', 'POST', '/1/0/8');
    assert.equal(e.request.packet.payload.length, 0, 'no arguments');
    assert.equal(e.response.packet.code, '2.04');
    const update = await exchange(mark, 'toServer', 'POST', `/rd/${id}`);
    assert.ok(update.request.seq > e.request.seq);
    assert.equal(typeOf(update.request.packet), 'CON');
    assert.equal(update.response.packet.code, '2.04');
    assert.equal(registrationId(), id, 'the same registration');
  });

  test('int-102 Registration Update: Write of the Lifetime PUT /1/0/1 → 2.04, then Update POST /rd/{id}?lt=<new> → 2.04', async () => {
    const mark = proxy.mark();
    const id = registrationId();
    const write = await op('write', { path: '/1/0/1', value: 120 });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const w = await exchange(mark, 'toClient', 'PUT', '/1/0/1');
    assert.equal(cfOf(w.request.packet), CF.TEXT);
    assert.equal(w.request.packet.payload.toString('utf8'), '120');
    assert.equal(w.response.packet.code, '2.04');
    const update = await exchange(mark, 'toServer', 'POST', `/rd/${id}`);
    assert.deepEqual(uriQueryOf(update.request.packet), ['lt=120']);
    assert.equal(update.request.packet.payload.length, 0, 'the objects did not change');
    assert.equal(update.response.packet.code, '2.04');
    assert.equal(gateway.lwm2m!.registration(ep)!.params.lifetime, 120);
  });

  test('Core §6.3 Create on objects whose instances the server may not create (Device, Event Log): POST /3, POST /20 → 4.05, no Location-Path, nothing created (ETS int-270 needs a creatable object: the agent has none)', async () => {
    for (const object of [3, 20]) {
      const record: LwM2mRecord = object === 3 ? { path: LwM2mPath.parse('/3/1/14'), type: 'string', value: '+01:00' } : { path: LwM2mPath.parse('/20/1/4010'), type: 'integer', value: 1 };
      const payload = Buffer.from(encodeContent(CF.SENML_CBOR, [record], LwM2mPath.of(object)));
      const res = await ask('POST', `/${object}`, { contentFormat: CF.SENML_CBOR, payload });
      assert.equal(res.code, '4.05', `POST /${object}: ${res.code} ${res.payload.toString()}`);
      assert.deepEqual(locationPathOf(res), []);
      const read = await ask('GET', `/${object}/1`, { accept: CF.SENML_CBOR });
      assert.equal(read.code, '4.04', `/${object}/1 does not exist`);
    }
  });

  test('Object 5 firmware update: PUT /5/0/1 Package URI, /5/0/3 State observed through Downloading, Downloaded, Updating; POST /5/0/2 → 2.04; re-registered on the new version with Update Result 1', async () => {
    let mark = proxy.mark();
    for (const path of ['/5/0/3', '/5/0/5']) {
      const observed = await op('observe', { path });
      assert.equal(observed.body.code, '2.05', JSON.stringify(observed.body));
      assert.equal(observed.body.content?.[0]?.value, 0, `${path}: Idle / Initial`);
    }
    const state = await exchange(mark, 'toClient', 'GET', '/5/0/3');
    const result = await exchange(mark, 'toClient', 'GET', '/5/0/5');
    for (const o of [state, result]) {
      assert.equal(uintOption(o.request.packet, 'Observe'), 0);
      assert.deepEqual([o.response.packet.code, cfOf(o.response.packet), o.response.packet.payload.toString()], ['2.05', CF.TEXT, '0']);
      assert.notEqual(uintOption(o.response.packet, 'Observe'), undefined);
    }
    const id = registrationId();
    const firmware = await addFirmware(gateway, '2.0.0', [identity!.model]);
    mark = proxy.mark();
    const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all', delivery: 'http' });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const uri = await exchange(mark, 'toClient', 'PUT', '/5/0/1', (e) => e.request.packet.payload.length > 0);
    assert.equal(cfOf(uri.request.packet), CF.TEXT);
    assert.match(uri.request.packet.payload.toString('utf8'), /^http:\/\/127\.0\.0\.1:\d+\/\S+$/);
    assert.equal(uri.response.packet.code, '2.04');
    const exec = await exchange(mark, 'toClient', 'POST', '/5/0/2');
    assert.equal(exec.request.packet.payload.length, 0);
    assert.equal(exec.response.packet.code, '2.04');

    const done = await finished(gateway, created.body.id, 120_000);
    assert.equal(done.state, 'completed', done.reason ?? '');

    const notified = (token: Buffer) =>
      proxy
        .since(mark)
        .filter((d) => d.direction === 'toServer' && d.packet?.code === '2.05' && d.packet.token.equals(token) && uintOption(d.packet, 'Observe') !== undefined)
        .map((d) => ({ seq: d.seq, value: d.packet!.payload.toString('utf8') }));
    const states = notified(state.request.packet.token);
    assert.deepEqual(
      states.map((s) => s.value).filter((v, i, all) => v !== all[i - 1]),
      ['1', '2', '3'],
      `State notifications: ${JSON.stringify(states)}`,
    );
    const downloaded = states.find((s) => s.value === '2')!;
    const updating = states.find((s) => s.value === '3')!;
    assert.ok(downloaded.seq < exec.request.seq && exec.request.seq < updating.seq, 'Downloaded, then Update, then Updating');

    // The device restarts into the new image and registers anew: its observations went with the old registration.
    const again = await exchange(mark, 'toServer', 'POST', '/rd', (e) => e.request.seq > exec.request.seq);
    assert.equal(again.response.packet.code, '2.01');
    assert.notEqual(registrationId(), id);
    const after = await ask('GET', '/5/0', { accept: CF.SENML_CBOR });
    const obj5 = records(CF.SENML_CBOR, after.payload, '/5/0');
    assert.deepEqual([obj5.get('/5/0/3'), obj5.get('/5/0/5')], [0, 1], 'Idle, Firmware updated successfully');
    const version = await ask('GET', '/3/0/3', { accept: CF.TEXT });
    assert.equal(version.payload.toString('utf8'), '2.0.0');
  });

  test('int-241 Reboot: POST /3/0/4 → 2.04, then the client registers again: POST /rd, Content-Format 40, ep/lt/lwm2m/b → 2.01 with Location-Path', async () => {
    await waitFor('online', () => gateway.repository.get(ep)?.status === 'online', TIMEOUT_MS);
    const mark = proxy.mark();
    const id = registrationId();
    const exec = await op('execute', { path: '/3/0/4' });
    assert.equal(exec.body.code, '2.04', JSON.stringify(exec.body));
    const e = await exchange(mark, 'toClient', 'POST', '/3/0/4');
    assert.equal(typeOf(e.request.packet), 'CON');
    assert.equal(e.response.packet.code, '2.04');
    const register = await exchange(mark, 'toServer', 'POST', '/rd', (x) => x.request.seq > e.request.seq);
    const req = register.request.packet;
    assert.equal(typeOf(req), 'CON');
    assert.equal(cfOf(req), CF.LINK);
    const q = queryMap(req);
    assert.deepEqual([q.get('ep'), q.get('lt'), q.get('lwm2m'), q.get('b')], [ep, '120', '1.1', 'U'], 'the lifetime written in int-102 survived the reboot');
    assert.ok(decodeLinks(req.payload).some((l) => l.target === '/3/0'));
    assert.equal(register.response.packet.code, '2.01');
    const location = locationPathOf(register.response.packet);
    assert.equal(location[0], 'rd');
    assert.equal(location.length, 2);
    await waitFor('the new registration', () => registrationId() === location[1], TIMEOUT_MS);
    assert.notEqual(location[1], id);
    // The rebooted client serves its server from its new address: the gateway's identity read after Register is answered.
    const sync = await exchange(mark, 'toClient', 'GET', '/3/0', (x) => x.request.seq > register.request.seq);
    assert.equal(sync.request.client, register.request.client);
    assert.equal(sync.response.packet.code, '2.05');
    assert.equal(
      proxy.exchanges(mark).filter((x) => x.request.direction === 'toServer' && uriPathOf(x.request.packet) === '/bs').length,
      0,
      'a reboot keeps the bootstrapped account: no Bootstrap-Request',
    );
  });

  test('int-103 Deregistration: DELETE /rd/{id} → 2.02 Deleted, and the device is offline', async () => {
    await waitFor('online', () => gateway.repository.get(ep)?.status === 'online', TIMEOUT_MS);
    // Registered on both ends: a client stopped while its Register is in flight has nothing to de-register yet.
    await fleet.agents[0]!.whenRegistered(TIMEOUT_MS);
    const mark = proxy.mark();
    const id = registrationId()!;
    await fleet.stop();
    const e = await exchange(mark, 'toServer', 'DELETE', `/rd/${id}`);
    assert.equal(typeOf(e.request.packet), 'CON');
    assert.equal(e.request.packet.payload.length, 0);
    assert.deepEqual(optionValues(e.request.packet, 'Uri-Query'), []);
    assert.equal(e.response.packet.code, '2.02');
    await waitFor('offline', () => gateway.repository.get(ep)?.status === 'offline', TIMEOUT_MS);
    assert.equal(gateway.lwm2m!.registration(ep), undefined);
  });
});

/** Resources whose value moves on its own between two reads. */
const VOLATILE = new Set(['/3/0/13', '/3/0/10', '/3/0/9', '/3/0/7/0', '/3/0/8/0', '/3/0/7/1', '/3/0/8/1', '/3/0/7/2', '/3/0/8/2']);

function unquote(v: string | undefined): string | undefined {
  return v?.replace(/^"|"$/g, '');
}

/** A decoded value in a form every format yields alike: dates as whole seconds, bytes as hex. */
function normalise(v: unknown): unknown {
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'bigint') return Number(v);
  return v;
}
