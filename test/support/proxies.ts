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
  private server!: HttpServer;

  constructor(
    /** Where requests go, e.g. http://127.0.0.1:8080; may be set later. */
    public target: string,
    /** Body bytes per second and per response; a function gives each response its own speed (by its number, from 0). */
    public bytesPerSecond: number | ((request: number) => number),
  ) {}

  async start(): Promise<this> {
    this.server = createHttpServer((req, res) => {
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
