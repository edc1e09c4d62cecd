import type { Database } from './database.js';

/** A plain CoAP device the operator named by address: what the gateway needs to manage it again after a restart. */
export interface ManagedCoapDevice {
  endpoint: string;
  /** `coap://{IP}[:port]`, as the operator gave it. */
  address: string;
  /** Seconds between probes. */
  lifetime: number;
  managedAt: number;
}

/** The devices managed by address (`POST /devices/{endpoint}/manage`), kept so a restart does not forget them. */
export class ManagedCoapDevices {
  constructor(private readonly db: Database) {}

  save(device: ManagedCoapDevice): void {
    this.db
      .prepare(
        `INSERT INTO coap_managed_devices (endpoint, address, lifetime, managed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET address = excluded.address, lifetime = excluded.lifetime, managed_at = excluded.managed_at`,
      )
      .run(device.endpoint, device.address, device.lifetime, device.managedAt);
  }

  remove(endpoint: string): void {
    this.db.prepare('DELETE FROM coap_managed_devices WHERE endpoint = ?').run(endpoint);
  }

  all(): ManagedCoapDevice[] {
    const rows = this.db.prepare('SELECT endpoint, address, lifetime, managed_at FROM coap_managed_devices ORDER BY endpoint').all() as {
      endpoint: string;
      address: string;
      lifetime: number;
      managed_at: number;
    }[];
    return rows.map((r) => ({ endpoint: r.endpoint, address: r.address, lifetime: r.lifetime, managedAt: r.managed_at }));
  }
}
