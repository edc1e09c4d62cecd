import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * A UDP socket bound to `host:port` (0: a free port), IPv4 or IPv6 by the address. No
 * SO_REUSEADDR: a second process on the same port must fail to start, not silently share it.
 */
export function bindUdp(host: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
