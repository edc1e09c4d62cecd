import type { Socket } from 'node:dgram';

/** A peer's address and port, as the socket sees them. */
export interface DatagramPeer {
  address: string;
  port: number;
}

export type DatagramListener = (direction: 'in' | 'out', peer: DatagramPeer, bytes: number) => void;

/**
 * Reports every datagram a UDP socket receives and sends (UDP payload bytes), whoever sends it:
 * the CoAP library, the client, Block1 answers, Resets. Outgoing ones are counted when handed to
 * the socket. Installed before any other 'message' listener, so incoming ones count even when
 * they are dropped as malformed.
 */
export function meterDatagrams(socket: Socket, listener: DatagramListener): void {
  socket.prependListener('message', (msg: Buffer, rinfo) => listener('in', { address: rinfo.address, port: rinfo.port }, msg.length));
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  (socket as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
    const sent = describe(args);
    if (sent) listener('out', sent.peer, sent.bytes);
    send(...args);
  };
}

/** send(msg, port, address, cb?) or send(msg, offset, length, port, address, cb?). */
function describe(args: unknown[]): { peer: DatagramPeer; bytes: number } | undefined {
  const [msg, a, b, c, d] = args;
  if (typeof a === 'number' && typeof b === 'number' && typeof c === 'number' && typeof d === 'string') return { peer: { address: d, port: c }, bytes: b };
  if (typeof a === 'number' && typeof b === 'string') return { peer: { address: b, port: a }, bytes: sizeOf(msg) };
  return undefined;
}

function sizeOf(msg: unknown): number {
  if (typeof msg === 'string') return Buffer.byteLength(msg);
  if (Array.isArray(msg)) return msg.reduce<number>((n, part) => n + sizeOf(part), 0);
  if (ArrayBuffer.isView(msg)) return msg.byteLength;
  return 0;
}
