import type { Client } from 'aedes';
import type { CredentialRole } from '../../device-link.js';

export interface MqttSession {
  endpoint: string;
  role: CredentialRole;
  client: Client;
  address: string | null;
}

/**
 * Who is behind each MQTT connection. Authentication stores the identity on the client;
 * the endpoint index holds the one live session per endpoint.
 */
export class SessionTable {
  private readonly byClient = new WeakMap<Client, { endpoint: string; role: CredentialRole }>();
  private readonly byEndpoint = new Map<string, MqttSession>();

  authenticated(client: Client, endpoint: string, role: CredentialRole): void {
    this.byClient.set(client, { endpoint, role });
  }

  identityOf(client: Client | null): { endpoint: string; role: CredentialRole } | undefined {
    return client ? this.byClient.get(client) : undefined;
  }

  /** Called when the connection is ready; returns the session it replaced, if any. */
  open(client: Client): MqttSession | undefined {
    const identity = this.byClient.get(client);
    if (!identity) return undefined;
    const previous = this.byEndpoint.get(identity.endpoint);
    const conn = client.conn as { remoteAddress?: string; remotePort?: number };
    const address = conn.remoteAddress ? `${conn.remoteAddress}:${conn.remotePort ?? ''}` : null;
    this.byEndpoint.set(identity.endpoint, { ...identity, client, address });
    return previous && previous.client !== client ? previous : undefined;
  }

  /** Returns the closed session only when it was the endpoint's current one (not a taken-over one). */
  close(client: Client): MqttSession | undefined {
    const identity = this.byClient.get(client);
    if (!identity) return undefined;
    const current = this.byEndpoint.get(identity.endpoint);
    if (current?.client !== client) return undefined;
    this.byEndpoint.delete(identity.endpoint);
    return current;
  }

  get(endpoint: string): MqttSession | undefined {
    return this.byEndpoint.get(endpoint);
  }

  get size(): number {
    return this.byEndpoint.size;
  }
}
