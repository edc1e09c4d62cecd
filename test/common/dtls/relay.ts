import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';

export type Direction = 'toServer' | 'toClient';

/**
 * A UDP relay between one client and a server, for tests: it sees (and may drop, record or
 * inject) every datagram. The client talks to `port`; the server sees the relay's own address.
 */
export class UdpRelay {
  readonly seen: { dir: Direction; datagram: Buffer }[] = [];
  drop: (dir: Direction, datagram: Buffer, index: number) => boolean = () => false;
  private client: RemoteInfo | undefined;
  private counts = { toServer: 0, toClient: 0 };

  private constructor(
    private readonly front: Socket,
    private readonly back: Socket,
    private readonly serverPort: number,
  ) {
    front.on('message', (msg, rinfo) => {
      this.client = rinfo;
      this.forward('toServer', msg);
    });
    back.on('message', (msg) => this.forward('toClient', msg));
  }

  static async start(serverPort: number): Promise<UdpRelay> {
    const front = createSocket('udp4');
    const back = createSocket('udp4');
    front.bind(0, '127.0.0.1');
    back.bind(0, '127.0.0.1');
    await Promise.all([once(front, 'listening'), once(back, 'listening')]);
    return new UdpRelay(front, back, serverPort);
  }

  get port(): number {
    return this.front.address().port;
  }

  private forward(dir: Direction, msg: Buffer): void {
    const index = this.counts[dir]++;
    this.seen.push({ dir, datagram: msg });
    if (this.drop(dir, msg, index)) return;
    this.inject(dir, msg);
  }

  /** Sends a datagram on as if the relay had received it. */
  inject(dir: Direction, msg: Buffer): void {
    if (dir === 'toServer') this.back.send(msg, this.serverPort, '127.0.0.1');
    else if (this.client) this.front.send(msg, this.client.port, this.client.address);
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}
