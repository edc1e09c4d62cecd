import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond } from '../../common/coap/coap-response.js';
import { testLog } from '../support/harness.js';

/**
 * Which answers a CoapNode keeps for duplicate detection (RFC 7252 §4.5): every route's by
 * default, so a retransmitted request gets the same answer without running its handler again;
 * none of a route opened with `rememberAnswers: false` (firmware blocks), whose retransmissions
 * are simply served again.
 */
describe('CoapNode: remembered answers per route', () => {
  let node: CoapNode;
  let socket: Socket;
  const runs = { kept: 0, bulk: 0 };

  before(async () => {
    node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog });
    node.route('kept', (_req, res) => {
      runs.kept++;
      respond(res, '2.05', Buffer.from(`kept ${runs.kept}`));
    });
    node.route(
      'bulk',
      async (_req, res) => {
        runs.bulk++;
        await new Promise((resolve) => setImmediate(resolve));
        respond(res, '2.05', Buffer.from('the same block'));
      },
      { rememberAnswers: false },
    );
    socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  });
  after(async () => {
    socket.close();
    await node.close();
  });

  /** Sends one Confirmable GET datagram and waits for the answer to it. */
  function get(path: string, messageId: number): Promise<ParsedPacket> {
    const token = Buffer.from([messageId >> 8, messageId & 0xff]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${path} #${messageId}`)), 3000);
      const onMessage = (msg: Buffer) => {
        const packet = parse(msg);
        if (packet.messageId !== messageId) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(packet);
      };
      socket.on('message', onMessage);
      socket.send(generate({ code: 'GET', confirmable: true, messageId, token, options: [{ name: 'Uri-Path', value: Buffer.from(path) }] }), node.port, '127.0.0.1');
    });
  }

  test('a default route keeps its answers: a duplicate is answered from memory, the handler runs once', async () => {
    const before = node.rememberedAnswers;
    const first = await get('kept', 0x1001);
    const again = await get('kept', 0x1001);
    assert.equal(first.code, '2.05');
    assert.equal(again.payload.toString(), first.payload.toString());
    assert.equal(runs.kept, 1);
    assert.equal(node.rememberedAnswers, before + 1);
  });

  test('a rememberAnswers: false route keeps none of its piggybacked answers; a duplicate is served again, alike', async () => {
    const before = node.rememberedAnswers;
    for (let id = 0x2000; id < 0x2000 + 50; id++) assert.equal((await get('bulk', id)).code, '2.05');
    assert.equal(node.rememberedAnswers, before, 'no answer of the bulk route is remembered');
    assert.equal(runs.bulk, 50);
    const again = await get('bulk', 0x2000);
    assert.equal(again.payload.toString(), 'the same block');
    assert.equal(again.ack, true, 'piggybacked on the ACK');
    assert.equal(runs.bulk, 51, 'the retransmission ran the handler again');
  });
});
