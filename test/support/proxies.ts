import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { request, createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface ProxiedRequest {
  path: string;
  range: string | undefined;
  status: number;
  /** Body bytes handed to the client. */
  bytes: number;
  completed: boolean;
}

/**
 * An HTTP reverse proxy that hands response bodies out at a fixed rate, standing in for a slow
 * radio link between devices and the gateway's firmware downloads. When the upstream is gone
 * (gateway killed) or breaks mid-body, the client's connection is cut, never answered with an
 * error status: a device sees a lost link, as it would in the field.
 */
export class ThrottlingHttpProxy {
  readonly requests: ProxiedRequest[] = [];
  /** While set, the link is out: each new request has its connection cut at once. */
  down = false;
  /** Requests whose connection was cut because the link was down. */
  refused = 0;
  private server!: HttpServer;

  constructor(
    /** Where requests go, e.g. http://127.0.0.1:8080; may be set later. */
    public target: string,
    /** Body bytes per second and per response; a function gives each response its own speed (by its number, from 0). */
    public bytesPerSecond: number | ((request: number) => number),
  ) {}

  async start(): Promise<this> {
    this.server = createHttpServer((req, res) => {
      if (this.down) {
        this.refused++;
        req.socket.destroy();
        return;
      }
      const record: ProxiedRequest = { path: req.url ?? '/', range: req.headers.range, status: 0, bytes: 0, completed: false };
      const rate = typeof this.bytesPerSecond === 'number' ? this.bytesPerSecond : this.bytesPerSecond(this.requests.length);
      this.requests.push(record);
      const target = new URL(this.target);
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent: false },
        (up: IncomingMessage) => {
          record.status = up.statusCode ?? 0;
          res.writeHead(up.statusCode ?? 502, up.headers);
          pipeline(
            up,
            async function* (source: AsyncIterable<Buffer>) {
              for await (const chunk of source) {
                for (let i = 0; i < chunk.length; i += 4096) {
                  const piece = chunk.subarray(i, i + 4096);
                  yield piece;
                  record.bytes += piece.length;
                  await new Promise((resolve) => setTimeout(resolve, (piece.length / rate) * 1000));
                }
              }
            },
            res,
          ).then(
            () => (record.completed = true),
            () => {
              up.destroy();
              res.destroy();
            },
          );
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The link breaks: every open connection is cut, responses mid-body included. */
  cut(): void {
    this.server.closeAllConnections();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A TCP relay in front of a port (the gateway's MQTT listener) that can be closed to new
 * connections while existing ones carry on: a device that reboots then cannot reach its server.
 */
export class TcpGate {
  /** New connections are dropped at once while this is set. */
  refuse = false;
  private server!: TcpServer;
  private readonly sockets = new Set<Socket>();

  constructor(public targetPort: number) {}

  async start(): Promise<this> {
    this.server = createTcpServer((client) => {
      if (this.refuse) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A UDP relay standing in for the radio link between a device and a CoAP server: each client
 * address gets its own upstream socket, so replies find their way back. It can be taken down
 * and brought back, as a device's link out of coverage and back.
 */
export class UdpLinkProxy {
  /** While set, the link is out: every datagram is dropped, both ways. */
  down = false;
  /** Datagrams dropped while down, by direction. */
  readonly dropped = { toServer: 0, toClient: 0 };
  /** Datagrams relayed, by direction. */
  readonly forwarded = { toServer: 0, toClient: 0 };
  /** Told of each datagram dropped while down (what the client tried to say, or was told). */
  onDrop: ((datagram: Buffer, direction: 'toServer' | 'toClient') => void) | undefined;
  private socket!: UdpSocket;
  private readonly upstreams = new Map<string, UdpSocket>();

  constructor(
    /** The server's UDP port on 127.0.0.1; may be set later. */
    public targetPort: number,
  ) {}

  async start(): Promise<this> {
    this.socket = createSocket('udp4');
    this.socket.on('error', () => undefined);
    this.socket.on('message', (msg: Buffer, client: RemoteInfo) => {
      if (this.down) {
        this.dropped.toServer++;
        this.onDrop?.(msg, 'toServer');
        return;
      }
      this.forwarded.toServer++;
      this.upstreamFor(client).send(msg, this.targetPort, '127.0.0.1');
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return this.socket.address().port;
  }

  get url(): string {
    return `coap://127.0.0.1:${this.port}`;
  }

  private upstreamFor(client: RemoteInfo): UdpSocket {
    const key = `${client.address}:${client.port}`;
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      upstream = createSocket('udp4');
      upstream.on('message', (msg: Buffer) => {
        if (this.down) {
          this.dropped.toClient++;
          this.onDrop?.(msg, 'toClient');
          return;
        }
        this.forwarded.toClient++;
        this.socket.send(msg, client.port, client.address);
      });
      // A client socket that went away answers with ICMP unreachable: not the relay's concern.
      upstream.on('error', () => undefined);
      this.upstreams.set(key, upstream);
    }
    return upstream;
  }

  async close(): Promise<void> {
    for (const upstream of this.upstreams.values()) upstream.close();
    this.upstreams.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
