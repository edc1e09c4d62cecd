/**
 * The peer broker of bench/herd.ts: a bare aedes (no authentication, ACL, registry or rate
 * limit) in its own process on a fixed port, so it can be killed and started again where its
 * clients reconnect. Prints `listening` once it listens; SIGTERM closes it.
 *
 *   node --import tsx bench/support/herd-bare-broker.ts <port>
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
