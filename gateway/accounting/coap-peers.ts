import type { DatagramPeer } from '../../common/coap/datagram-meter.js';
import type { TransportKind } from '../../protocol/states.js';
import type { Database } from '../store/database.js';

export interface PeerOwner {
  endpoint: string;
  transport: TransportKind;
}

/**
 * Which device is behind a CoAP peer address: the address its LwM2M or CoAP registration came
 * from (or the one it is managed at), as the registry holds it. Read from SQL in one query, again
 * only when a peer is not known (at most once per ledger flush).
 */
export class CoapPeers {
  private owners = new Map<string, PeerOwner>();

  constructor(private readonly db: Database) {}

  static key(peer: DatagramPeer): string {
    return `${peer.address.replace(/^\[|\]$/g, '')}|${peer.port}`;
  }

  lookup(key: string): PeerOwner | undefined {
    return this.owners.get(key);
  }

  refresh(): void {
    const rows = this.db
      .prepare<[], { endpoint: string; transport: TransportKind; address: string }>(
        `SELECT endpoint, transport, address FROM devices WHERE transport IN ('lwm2m', 'coap') AND address IS NOT NULL AND status != 'decommissioned'`,
      )
      .all();
    const owners = new Map<string, PeerOwner>();
    for (const row of rows) {
      const peer = parseAddress(row.address);
      if (peer) owners.set(CoapPeers.key(peer), { endpoint: row.endpoint, transport: row.transport });
    }
    this.owners = owners;
  }
}

/** `192.0.2.7:5683`, `[2001:db8::1]:5683` or `2001:db8::1:5683` (the port after the last colon). */
function parseAddress(text: string): DatagramPeer | undefined {
  const cut = text.lastIndexOf(':');
  if (cut <= 0) return undefined;
  const port = Number(text.slice(cut + 1));
  if (!Number.isInteger(port)) return undefined;
  return { address: text.slice(0, cut).replace(/^\[|\]$/g, ''), port };
}
