/**
 * The server side of bench/dtls.ts, in its own process so that client and server each get a
 * core: one `coap` server on plain UDP and one on DTLS (common/dtls, PSK), both answering
 * `GET /echo` with the same 64 bytes. Prints `ready <plainPort> <dtlsPort>` and serves until
 * stdin closes; then prints the DTLS server's counters as one JSON line.
 */
import { createSocket } from 'node:dgram';
import coap from 'coap';
import { DtlsServer } from '../../common/dtls/dtls-server.js';
import { DtlsSocket } from '../../common/dtls/dtls-socket.js';

const [identity, key, suite] = process.argv.slice(2) as [string, string, string];
const payload = Buffer.alloc(64, 0x5a);
const handler = (req: coap.IncomingMessage, res: coap.OutgoingMessage) => {
  if (req.url === '/echo') res.end(payload);
  else {
    res.code = '4.04';
    res.end();
  }
};

const plainSocket = createSocket('udp4');
await new Promise<void>((resolve) => plainSocket.bind(0, '127.0.0.1', resolve));
const plain = coap.createServer({ piggybackReplyMs: 1000 }, handler);
plain.listen(plainSocket as never);

const dtls = await DtlsServer.listen({
  host: '127.0.0.1',
  port: 0,
  psk: (id) => (id.toString() === identity ? Buffer.from(key, 'hex') : undefined),
  cipherSuites: [suite as never],
  // Every bench client is a new session: room for all of them.
  maxSessions: 100_000,
});
const secure = coap.createServer({ piggybackReplyMs: 1000 }, handler);
secure.listen(new DtlsSocket(dtls) as never);

process.stdout.write(`ready ${plainSocket.address().port} ${dtls.address().port}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify(dtls.stats)}\n`);
  process.exit(0);
});
