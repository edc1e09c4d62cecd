import { Socket, type RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { DtlsEndpoint } from './dtls-endpoint.js';

type SendCallback = (err: Error | null, bytes?: number) => void;

/**
 * A dgram.Socket look-alike over a DTLS endpoint, for the `coap` library (coap.createServer's
 * `listen(socket)`, `new Agent({ socket })`): 'message' carries decrypted datagrams with the
 * peer's rinfo, and `send` encrypts through the session with that peer (a DtlsClient starts a
 * handshake when there is none yet).
 *
 * The coap library tests `socket instanceof dgram.Socket` before it answers a duplicate request
 * from its reply cache (and in `_sendError`): without that, a retransmitted Confirmable request
 * would be handled twice. So this class sits on dgram.Socket's prototype chain. Only the methods
 * defined here may be called; the dgram ones it inherits would find no socket state.
 */
export class DtlsSocket extends EventEmitter {
  private closed = false;

  constructor(readonly endpoint: DtlsEndpoint) {
    super();
    endpoint.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.emit('message', msg, rinfo));
    endpoint.on('error', (err: Error) => this.emit('error', err));
  }

  get type(): 'udp4' | 'udp6' {
    return this.endpoint.type;
  }

  send(msg: Buffer | string, port: number, address: string, cb?: SendCallback): void;
  send(msg: Buffer | string, offset: number, length: number, port: number, address: string, cb?: SendCallback): void;
  send(msg: Buffer | string, a: number, b: number | string, c?: number | SendCallback, d?: string, e?: SendCallback): void {
    let data = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
    let port: number;
    let address: string;
    let cb: SendCallback | undefined;
    if (typeof b === 'string') {
      port = a;
      address = b;
      cb = c as SendCallback | undefined;
    } else {
      data = data.subarray(a, a + b);
      port = c as number;
      address = d!;
      cb = e;
    }
    if (this.closed) {
      cb?.(new Error('DTLS socket closed'));
      return;
    }
    this.endpoint.send(Buffer.from(data), port, address || '127.0.0.1', cb);
  }

  address(): { address: string; family: string; port: number } {
    return this.endpoint.address();
  }

  close(cb?: () => void): this {
    if (this.closed) {
      if (cb) setImmediate(cb);
      return this;
    }
    this.closed = true;
    void this.endpoint.close().then(() => {
      this.emit('close');
      cb?.();
    });
    return this;
  }

  bind(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

Object.setPrototypeOf(DtlsSocket.prototype, Socket.prototype);
