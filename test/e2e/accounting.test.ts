import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { generate, parse, type Packet, type ParsedPacket } from 'coap-packet';
import { after, before, describe, test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Gateway } from '../../gateway/gateway.js';
import { LwM2mPath, ResultCode } from '../../protocol/model/index.js';
import { decodeBootstrapResponse, decodeRequestMessage, encodeBootstrapRequest, encodeRegisterMessage, encodeResponseMessage } from '../../protocol/mqtt/codec.js';
import { topicFor } from '../../protocol/mqtt/topics.js';
import { api, apiHeaders, startGateway, tempDir } from '../support/harness.js';
import { runCli } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

interface LedgerRowView {
  endpoint: string;
  period: string;
  transport: string;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  firmwareBytes: number;
  operations: Record<string, number>;
}

/** What the device side measured on its own sockets. */
interface Measured {
  bytesOut: number;
  bytesIn: number;
  published: number;
  received: number;
}

const ENDPOINT = 'acct-0001';
const FACTORY_SECRET = 'acct-factory-secret-0123456789';

async function open(gateway: Gateway, username: string, password: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    // A long keepalive: no PINGREQ in the middle of the exchange (it would be counted alike anyway).
    const c = connect(gateway.mqttUrl, { clientId: ENDPOINT, username, password, reconnectPeriod: 0, keepalive: 300, protocolVersion: 4 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Closes with DISCONNECT and adds the socket's own byte counters to what was measured. */
async function close(client: MqttClient, measured: Measured): Promise<void> {
  await client.endAsync();
  const socket = client.stream as Socket;
  measured.bytesOut += socket.bytesWritten;
  measured.bytesIn += socket.bytesRead;
}

describe('accounting ledger', () => {
  const dir = tempDir();
  let gateway: Gateway;
  const measured: Measured = { bytesOut: 0, bytesIn: 0, published: 0, received: 0 };

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
    gateway.devices.importFactoryIdentities([{ endpoint: ENDPOINT, secret: FACTORY_SECRET, tags: [], groups: [] }]);

    // 1. Bootstrap with the factory identity, as a raw MQTT client.
    const factory = await open(gateway, ENDPOINT, FACTORY_SECRET);
    await factory.subscribeAsync(topicFor(ENDPOINT, 'bs/res'), { qos: 1 });
    const granted = new Promise<Buffer>((resolve) => factory.once('message', (_topic, payload) => resolve(payload)));
    await factory.publishAsync(topicFor(ENDPOINT, 'bs/req'), Buffer.from(encodeBootstrapRequest({ requestId: 'b1', endpoint: ENDPOINT })), { qos: 1 });
    measured.published++;
    const response = decodeBootstrapResponse(await granted);
    measured.received++;
    const secret = Buffer.from(response.content.find((r) => r.path.toString() === '/0/1/5')!.value as Uint8Array).toString('utf8');
    await close(factory, measured);

    // 2. Register with the operational credential, answer the gateway's reads, then one read from the API.
    const device = await open(gateway, ENDPOINT, secret);
    await device.subscribeAsync(topicFor(ENDPOINT, 'req'), { qos: 1 });
    device.on('message', (_topic, payload) => {
      measured.received++;
      const request = decodeRequestMessage(payload);
      const path = request.operation.path;
      const content = path.equals(LwM2mPath.of(3, 0)) || path.equals(LwM2mPath.of(3, 0, 0)) ? [{ path: LwM2mPath.of(3, 0, 0), type: 'string' as const, value: 'ACME' }] : [];
      const result = content.length ? { code: ResultCode.CONTENT, content } : { code: ResultCode.NOT_FOUND };
      measured.published++;
      void device.publishAsync(topicFor(ENDPOINT, 'res'), Buffer.from(encodeResponseMessage({ id: request.id, result })), { qos: 1 });
    });
    // Only Object 1 announced: no monitoring observations, so the exchange is the one below.
    await device.publishAsync(topicFor(ENDPOINT, 'register'), Buffer.from(encodeRegisterMessage({ lwm2mVersion: '1.1', lifetime: 300, binding: 'M', queueMode: false, objectLinks: [{ target: '/1/0', attributes: {} }] })), { qos: 1 });
    measured.published++;
    await waitFor('device information read at registration', async () => (await api<{ manufacturer: string | null }>(gateway, 'GET', `/api/v1/devices/${ENDPOINT}`)).body.manufacturer === 'ACME');
    const read = await api<{ code: string; content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${ENDPOINT}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
    await close(device, measured);
    await waitFor('device offline', async () => (await api<{ status: string }>(gateway, 'GET', `/api/v1/devices/${ENDPOINT}`)).body.status === 'offline');
  });

  after(async () => {
    await gateway.close();
    dir.remove();
  });

  test("the ledger's MQTT bytes equal the bytes measured on the device's own sockets, exactly", async () => {
    const r = await api<{ items: LedgerRowView[] }>(gateway, 'GET', `/api/v1/accounting?endpoint=${ENDPOINT}&from=1h`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const mqtt = r.body.items.filter((i) => i.transport === 'mqtt');
    const sum = (k: keyof Measured & keyof LedgerRowView) => mqtt.reduce((n, i) => n + (i[k] as number), 0);
    assert.ok(measured.bytesOut > 0 && measured.bytesIn > 0);
    assert.equal(mqtt.reduce((n, i) => n + i.bytesIn, 0), measured.bytesOut, 'bytes in (device → gateway)');
    assert.equal(mqtt.reduce((n, i) => n + i.bytesOut, 0), measured.bytesIn, 'bytes out (gateway → device)');
    assert.equal(mqtt.reduce((n, i) => n + i.messagesIn, 0), measured.published, 'PUBLISH packets in');
    assert.equal(mqtt.reduce((n, i) => n + i.messagesOut, 0), measured.received, 'PUBLISH packets out');
    assert.equal(sum('firmwareBytes' as never), 0);
    const operations = mqtt.reduce<Record<string, number>>((ops, i) => {
      for (const [k, n] of Object.entries(i.operations)) ops[k] = (ops[k] ?? 0) + n;
      return ops;
    }, {});
    assert.deepEqual(operations, { read: 2 }, 'the read at registration and the API read');
  });

  test('CSV export: same figures, a header, one line per device, hour and transport', async () => {
    const json = (await api<{ items: LedgerRowView[] }>(gateway, 'GET', `/api/v1/accounting?endpoint=${ENDPOINT}&from=1h`)).body.items;
    for (const request of [`${gateway.apiUrl}/api/v1/accounting?endpoint=${ENDPOINT}&from=1h&format=csv`, `${gateway.apiUrl}/api/v1/accounting?endpoint=${ENDPOINT}&from=1h`]) {
      const res = await fetch(request, { headers: { ...apiHeaders(gateway), accept: 'text/csv' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
      const rows = parseCsv(await res.text(), { columns: true }) as Record<string, string>[];
      assert.equal(rows.length, json.length);
      for (const [i, row] of rows.entries()) {
        const j = json[i]!;
        assert.equal(row.endpoint, j.endpoint);
        assert.equal(row.period_start, j.period);
        assert.equal(row.transport, j.transport);
        assert.equal(Number(row.bytes_in), j.bytesIn);
        assert.equal(Number(row.bytes_out), j.bytesOut);
        assert.equal(Number(row.messages_in), j.messagesIn);
        assert.equal(Number(row.ops_read), j.operations.read ?? 0);
        assert.equal(Number(row['ops_write-attributes']), 0);
      }
    }
  });

  test('CLI: `edgedm accounting --csv`, `edgedm alarms`, `edgedm alarm-rules`, `edgedm alarms ack` with a clear error', async () => {
    const cli = (...args: string[]) => runCli(['--api', gateway.apiUrl, ...args]);
    const csv = await cli('accounting', '--device', ENDPOINT, '--from', '1h', '--csv');
    assert.equal(csv.status, 0, csv.stderr);
    assert.match(csv.stdout, /^endpoint,period_start,transport,messages_in/);
    assert.match(csv.stdout, new RegExp(`${ENDPOINT},[^,]+,mqtt,`));
    const table = await cli('accounting', '--device', ENDPOINT, '--from', '1h');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /read 2/);
    const rules = await cli('alarm-rules');
    assert.match(rules.stdout, /battery-low\s+warning\s+yes\s+\/3\/0\/9 < 20/);
    const added = await cli('--json', 'alarm-rules', 'add', '--name', 'memory tiny', '--kind', 'value', '--path', '/3/0/10', '--op', '<', '--threshold', '4', '--severity', 'critical');
    assert.equal(added.status, 0, added.stderr);
    const id = (JSON.parse(added.stdout) as { id: string }).id;
    const disabled = await cli('alarm-rules', 'disable', id);
    assert.equal(disabled.status, 0, disabled.stderr);
    assert.equal((await api<{ enabled: boolean }>(gateway, 'GET', `/api/v1/alarm-rules/${id}`)).body.enabled, false);
    assert.equal((await cli('alarm-rules', 'delete', id)).status, 0);
    const none = await cli('alarms', '--state', 'active', '--device', ENDPOINT);
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, /no alarms/);
    const missing = await cli('alarms', 'ack', '424242');
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /^error: no alarm 424242/);
  });

  test('grouped by day; a period with nothing is empty; bad input is a 400', async () => {
    const day = (await api<{ items: LedgerRowView[] }>(gateway, 'GET', `/api/v1/accounting?group=day&from=2d`)).body.items.filter((i) => i.endpoint === ENDPOINT);
    assert.equal(day.length, 1);
    assert.match(day[0]!.period, /T00:00:00\.000Z$/);
    const old = await api<{ items: LedgerRowView[] }>(gateway, 'GET', '/api/v1/accounting?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z');
    assert.deepEqual(old.body.items, []);
    const bad = await api<{ error: { code: string } }>(gateway, 'GET', '/api/v1/accounting?from=soon');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_time');
    assert.equal((await api(gateway, 'GET', '/api/v1/accounting?group=week')).status, 400);
  });
});

describe('accounting ledger over LwM2M', () => {
  test("a raw UDP LwM2M client: the ledger's datagrams and bytes equal what its own socket sent and received", async () => {
    const dir = tempDir();
    const gateway = await startGateway(`${dir.path}/gw`);
    const endpoint = 'acct-lwm2m-1';
    gateway.devices.importFactoryIdentities([{ endpoint, secret: 'unused-with-nosec-0123456789', tags: [], groups: [] }]);
    const socket = createSocket('udp4');
    const measured = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 };
    const send = (packet: Packet) => {
      const datagram = generate(packet);
      measured.sent++;
      measured.bytesSent += datagram.length;
      socket.send(datagram, gateway.coapPort!, '127.0.0.1');
    };
    const answers = new Map<number, ParsedPacket>();
    socket.on('message', (datagram) => {
      measured.received++;
      measured.bytesReceived += datagram.length;
      const p = parse(datagram);
      if (p.ack) {
        answers.set(p.messageId, p);
        return;
      }
      // A request from the server: answer it piggybacked, /3/0/0 with its value, the rest 4.04.
      const path = p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/');
      const found = path === '3/0/0';
      send({
        ack: true,
        messageId: p.messageId,
        token: p.token,
        code: found ? '2.05' : '4.04',
        ...(found ? { options: [{ name: 'Content-Format', value: Buffer.from([0]) }], payload: Buffer.from('ACME') } : {}),
      });
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const request = async (messageId: number, packet: Packet): Promise<ParsedPacket> => {
      send({ ...packet, confirmable: true, messageId, token: Buffer.from([messageId & 0xff]) });
      return waitFor(`answer to ${messageId}`, () => answers.get(messageId));
    };
    try {
      const registered = await request(1, {
        code: 'POST',
        options: [
          { name: 'Uri-Path', value: Buffer.from('rd') },
          { name: 'Content-Format', value: Buffer.from([40]) },
          { name: 'Uri-Query', value: Buffer.from(`ep=${endpoint}`) },
          { name: 'Uri-Query', value: Buffer.from('lt=60') },
          { name: 'Uri-Query', value: Buffer.from('lwm2m=1.1') },
        ],
        payload: Buffer.from('</1/0>'),
      });
      assert.equal(registered.code, '2.01');
      const location = registered.options.filter((o) => o.name === 'Location-Path');
      await waitFor('device information read at registration', () => gateway.repository.get(endpoint)?.manufacturer === 'ACME');
      const read = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${endpoint}/read`, { path: '/3/0/0' });
      assert.equal(read.body.code, '2.05');
      const gone = await request(2, { code: 'DELETE', options: location.map((o) => ({ name: 'Uri-Path' as const, value: o.value })) });
      assert.equal(gone.code, '2.02');
      await waitFor('offline', () => gateway.repository.get(endpoint)?.status === 'offline');

      const rows = (await api<{ items: LedgerRowView[] }>(gateway, 'GET', `/api/v1/accounting?endpoint=${endpoint}&from=1h`)).body.items;
      const sum = (k: 'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut') => rows.reduce((n, r) => n + r[k], 0);
      assert.ok(rows.every((r) => r.transport === 'lwm2m'), JSON.stringify(rows));
      assert.equal(sum('messagesIn'), measured.sent, 'datagrams in');
      assert.equal(sum('messagesOut'), measured.received, 'datagrams out');
      assert.equal(sum('bytesIn'), measured.bytesSent, 'bytes in (device → gateway)');
      assert.equal(sum('bytesOut'), measured.bytesReceived, 'bytes out (gateway → device)');
      assert.equal(rows.reduce((n, r) => n + (r.operations.read ?? 0), 0), 6, 'read /3/0, the four identity resources one by one, and the API read');
    } finally {
      socket.close();
      await gateway.close();
      dir.remove();
    }
  });
});
