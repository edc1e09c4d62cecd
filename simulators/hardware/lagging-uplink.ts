import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * A TCP connection whose device-to-server direction lags by `delayMs`: every chunk the device
 * writes leaves that much later, in order (timers of equal delay fire in the order they were
 * set). What the server sends arrives at once. The agent above sees an ordinary stream; the
 * server sees a device that answers late. Closing either end closes both.
 */
export function laggingUplink(socket: Socket, delayMs: number): Duplex {
  const pending = new Set<NodeJS.Timeout>();
  const later = (fn: () => void) => {
    const timer = setTimeout(() => {
      pending.delete(timer);
      fn();
    }, delayMs);
    pending.add(timer);
  };
  const stream = new Duplex({
    allowHalfOpen: false,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      later(() => {
        if (!socket.destroyed) socket.write(chunk);
      });
      done();
    },
    final(done) {
      later(() => socket.end());
      done();
    },
    destroy(err, done) {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      socket.destroy();
      done(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('connect', () => stream.emit('connect'));
  socket.once('end', () => stream.push(null));
  socket.once('error', (err) => stream.destroy(err));
  socket.once('close', () => stream.destroy());
  return stream;
}
