import assert from 'node:assert/strict';
import type { OutgoingMessage } from 'coap';
import { after, before, describe, test } from 'node:test';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond, respondError } from '../../common/coap/coap-response.js';
import type { CoapRequest } from '../../common/coap/coap-router.js';
import type { Gateway } from '../../gateway/gateway.js';
import { decodeUint, encodeUint } from '../../protocol/coap/index.js';
import { encodeContent, encodeLinks, LwM2mContentFormat, parseLinks } from '../../protocol/lwm2m/index.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';

/**
 * The gateway's LwM2M server against a bare-bones client written here on the raw CoAP layer
 * (no agent code), so what is tested is the server's side of the wire: Registration interface,
 * requests leaving from the registered port, content formats, queue mode, expiry.
 */
class BareClient {
  readonly requests: { method: string; path: string; query: string[]; accept: number | undefined }[] = [];
  readonly values = new Map<string, string>([['/3/0/0', 'ACME'], ['/3/0/9', '87'], ['/1/0/1', '60']]);
  observer: OutgoingMessage | undefined;
  location: string[] = [];

  private constructor(readonly node: CoapNode) {
    node.fallback((req, res) => this.serve(req, res));
  }

  static async start(): Promise<BareClient> {
    return new BareClient(await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog }));
  }

  private serve(req: CoapRequest, res: OutgoingMessage): void {
    const path = `/${req.path.join('/')}`;
    const accept = req.option('Accept');
    this.requests.push({ method: req.method, path, query: req.query, accept: accept && decodeUint(accept) });
    if (req.method === 'GET' && path === '/3/0') {
      const records = [
        { path: LwM2mPath.parse('/3/0/0'), type: 'string' as const, value: this.values.get('/3/0/0')! },
        { path: LwM2mPath.parse('/3/0/9'), type: 'integer' as const, value: Number(this.values.get('/3/0/9')) },
      ];
      const format = accept ? decodeUint(accept) : LwM2mContentFormat.TLV;
      return respond(res, '2.05', Buffer.from(encodeContent(format, records, LwM2mPath.parse('/3/0'))), [['Content-Format', encodeUint(format)]]);
    }
    if (req.method === 'GET' && req.raw.headers.Observe === 0) {
      this.observer = res;
      (res as unknown as { statusCode: string }).statusCode = '2.05';
      res.setOption('Content-Format', encodeUint(0));
      res.write(this.values.get(path) ?? '');
      return;
    }
    if (req.method === 'GET' && this.values.has(path)) return respond(res, '2.05', Buffer.from(this.values.get(path)!), [['Content-Format', encodeUint(0)]]);
    if (req.method === 'PUT' && req.query.length > 0) return respond(res, '2.04');
    if (req.method === 'PUT' && this.values.has(path)) {
      this.values.set(path, req.raw.payload.toString('utf8'));
      return respond(res, '2.04');
    }
    if (req.method === 'POST' && path === '/3/0/4') return respond(res, '2.04');
    respondError(res, '4.04', 'not here');
  }

  async register(gateway: Gateway, endpoint: string, query: string[]): Promise<string> {
    const res = await this.node.client.request(
      { address: '127.0.0.1', port: gateway.coapPort! },
      { method: 'POST', path: ['rd'], query: [`ep=${endpoint}`, ...query], options: [['Content-Format', encodeUint(40)]], payload: encodeLinks(parseLinks('</1/0>,</3/0>,</5/0>')) },
      { timeoutMs: 5000 },
    );
    if (res.code === '2.01') this.location = res.locationPath;
    return res.code;
  }

  async update(gateway: Gateway, query: string[] = []): Promise<string> {
    const res = await this.node.client.request({ address: '127.0.0.1', port: gateway.coapPort! }, { method: 'POST', path: this.location, query }, { timeoutMs: 5000 });
    return res.code;
  }

  async deregister(gateway: Gateway): Promise<string> {
    return (await this.node.client.request({ address: '127.0.0.1', port: gateway.coapPort! }, { method: 'DELETE', path: this.location }, { timeoutMs: 5000 })).code;
  }
}

describe('LwM2M server (Registration and Device Management interfaces) against a bare CoAP client', () => {
  const dir = tempDir();
  const [one, two, sleepy] = testIdentities(3, 'lwsrv');
  let gateway: Gateway;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`, {
      lwm2m: { enabled: true, serverUri: null, queueAwakeMs: 800 },
      // Only the requests each test makes: the monitoring observations set up at registration
      // would straddle the queue-mode client's short awake window (and each answer wakes it).
      monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, observe: false },
    });
    gateway.devices.importFactoryIdentities([one!, two!, sleepy!]);
  });
  after(async () => {
    await gateway.close();
    dir.remove();
  });

  test('register (1.0, NoSec), manage over the wire from the registered port, update, de-register', async () => {
    const client = await BareClient.start();
    try {
      assert.equal(await client.register(gateway, one!.endpoint, ['lt=60', 'b=U']), '2.01');
      assert.equal(client.location[0], 'rd');
      await waitFor('online', () => gateway.repository.get(one!.endpoint)?.status === 'online');
      const record = gateway.repository.get(one!.endpoint)!;
      assert.equal(record.transport, 'lwm2m');
      assert.equal(record.lwm2mVersion, '1.0');
      assert.equal(record.address, `127.0.0.1:${client.node.port}`);
      assert.deepEqual(record.objectLinks.map((l) => l.target), ['/1/0', '/3/0', '/5/0']);
      // The registry syncs identity from /3/0 (TLV, the 1.0 default: no Accept sent).
      await waitFor('device info read', () => gateway.repository.get(one!.endpoint)?.manufacturer === 'ACME');
      assert.equal(client.requests.find((r) => r.path === '/3/0')?.accept, undefined);

      const read = await api<{ code: string; content: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${one!.endpoint}/read`, { path: '/3/0/9' });
      assert.equal(read.status, 200, JSON.stringify(read.body));
      assert.deepEqual(read.body.content.map((r) => [r.path, r.value]), [['/3/0/9', 87]]);
      const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${one!.endpoint}/write`, { path: '/1/0/1', value: 120, type: 'integer' });
      assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
      assert.equal(client.values.get('/1/0/1'), '120');
      const exec = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${one!.endpoint}/execute`, { path: '/3/0/4' });
      assert.equal(exec.body.code, '2.04');
      const missing = await api<{ code: string; message?: string }>(gateway, 'POST', `/api/v1/devices/${one!.endpoint}/read`, { path: '/3/0/15' });
      assert.deepEqual([missing.body.code, missing.body.message], ['4.04', 'not here']);

      assert.equal(await client.update(gateway, ['lt=90']), '2.04');
      await waitFor('lifetime updated', () => gateway.repository.get(one!.endpoint)?.lifetime === 90);
      assert.equal(await client.deregister(gateway), '2.02');
      await waitFor('offline', () => gateway.repository.get(one!.endpoint)?.status === 'offline');
      assert.equal(await client.update(gateway), '4.04', 'a removed registration is unknown');
    } finally {
      await client.node.close();
    }
  });

  test('a 1.1 client is asked for SenML CBOR; observations notify the registry until cancelled', async () => {
    const client = await BareClient.start();
    try {
      assert.equal(await client.register(gateway, two!.endpoint, ['lt=60', 'lwm2m=1.1', 'b=U']), '2.01');
      await waitFor('device info read', () => gateway.repository.get(two!.endpoint)?.manufacturer === 'ACME');
      assert.equal(client.requests.find((r) => r.path === '/3/0')?.accept, LwM2mContentFormat.SENML_CBOR);

      const notifications: unknown[] = [];
      const unsubscribe = gateway.events.subscribe((e) => {
        if (e.type === 'device.notification' && e.endpoint === two!.endpoint) notifications.push(e.content[0]?.value);
      });
      const observed = await api<{ code: string; content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${two!.endpoint}/observe`, { path: '/3/0/9' });
      assert.equal(observed.body.code, '2.05');
      assert.equal(observed.body.content[0]?.value, 87);
      client.observer!.write('86');
      client.observer!.write('85');
      await waitFor('two notifications', () => notifications.length >= 2);
      assert.deepEqual(notifications, [86, 85]);
      const cancelled = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${two!.endpoint}/cancel-observe`, { path: '/3/0/9' });
      assert.equal(cancelled.body.code, '2.05');
      unsubscribe();
    } finally {
      await client.node.close();
    }
  });

  test('unknown endpoints and bad registrations are refused with the reason; nothing is registered', async () => {
    const client = await BareClient.start();
    try {
      assert.equal(await client.register(gateway, 'stranger-1', ['lt=60']), '4.03');
      assert.equal(gateway.repository.get('stranger-1'), undefined);
      assert.equal(await client.register(gateway, one!.endpoint, ['lt=-5']), '4.00');
      assert.equal(await client.register(gateway, one!.endpoint, ['lt=60', 'lwm2m=3.0']), '4.00');
    } finally {
      await client.node.close();
    }
  });

  test('queue mode (b=UQ): asleep after the awake window, requests held until the next Update, then answered', async () => {
    const client = await BareClient.start();
    try {
      assert.equal(await client.register(gateway, sleepy!.endpoint, ['lt=60', 'b=UQ']), '2.01');
      await waitFor('info read while awake', () => gateway.repository.get(sleepy!.endpoint)?.manufacturer === 'ACME');
      await waitFor('asleep', () => gateway.repository.get(sleepy!.endpoint)?.status === 'sleeping', 5000);
      const before = client.requests.length;
      const pending = api<{ code: string; content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${sleepy!.endpoint}/read`, { path: '/3/0/0' });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(client.requests.length, before, 'nothing is sent to a sleeping client');
      assert.equal(await client.update(gateway), '2.04');
      const read = await pending;
      assert.equal(read.body.content[0]?.value, 'ACME');
      assert.equal(gateway.repository.get(sleepy!.endpoint)?.status, 'online');
    } finally {
      await client.node.close();
    }
  });

  test('a registration whose lifetime passes without an Update expires: the device goes offline', async () => {
    const client = await BareClient.start();
    try {
      assert.equal(await client.register(gateway, one!.endpoint, ['lt=1']), '2.01');
      await waitFor('online', () => gateway.repository.get(one!.endpoint)?.status === 'online');
      await waitFor('expired', () => gateway.repository.get(one!.endpoint)?.status === 'offline', 10_000);
      assert.equal(gateway.lwm2m!.isConnected(one!.endpoint), false);
    } finally {
      await client.node.close();
    }
  });
});
