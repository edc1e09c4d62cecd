import type { Logger } from '../../common/logger.js';
import { compileTarget, parseTarget } from '../../protocol/targets/index.js';
import type { EventBus } from '../events.js';
import { hashSecret } from '../security/secrets.js';
import type { DeviceRecord, DeviceRepository } from '../store/device-repository.js';
import type { DeviceCommands } from './device-commands.js';
import type { FactoryIdentity } from './factory-import.js';

/** Keeps factory secrets sealed (for the LwM2M bootstrap PSK) and hears when they are replaced or revoked. */
export interface FactorySecretKeeper {
  seal(endpoint: string, secret: string): Buffer;
  changed(endpoints: readonly string[]): void;
}

export interface DevicePage {
  items: DeviceRecord[];
  total: number;
  offset: number;
  limit: number;
}

/** Registry operations the API and CLI offer: listing by target, labels, import, decommission. */
export class DeviceService {
  constructor(
    private readonly repo: DeviceRepository,
    private readonly commands: DeviceCommands,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** Without it only the SHA-256 of each factory secret is kept (no LwM2M bootstrap PSK). */
    private readonly secrets?: FactorySecretKeeper,
  ) {}

  /** Throws TargetSyntaxError for a bad expression. */
  list(target: string | undefined, offset: number, limit: number): DevicePage {
    const matches = target ? compileTarget(parseTarget(target)) : () => true;
    const all = this.repo.list().filter(matches);
    return { items: all.slice(offset, offset + limit), total: all.length, offset, limit };
  }

  get(endpoint: string): DeviceRecord | undefined {
    return this.repo.get(endpoint);
  }

  importFactoryIdentities(rows: FactoryIdentity[]): { created: number; updated: number } {
    const result = this.repo.importFactoryIdentities(
      rows.map((r) => ({
        endpoint: r.endpoint,
        factorySecretHash: hashSecret(r.secret),
        ...(this.secrets ? { factorySecretSealed: this.secrets.seal(r.endpoint, r.secret) } : {}),
        ...(r.model ? { model: r.model } : {}),
        tags: r.tags,
        groups: r.groups,
      })),
      this.now(),
    );
    this.log.info(result, 'imported factory identities');
    this.secrets?.changed(rows.map((r) => r.endpoint));
    return result;
  }

  /** Revokes the operational credential and closes any open session at once. */
  decommission(endpoint: string): DeviceRecord {
    const previous = this.repo.get(endpoint)?.status ?? null;
    const at = this.now();
    this.repo.decommission(endpoint, at);
    this.secrets?.changed([endpoint]);
    this.commands.disconnect(endpoint, 'decommissioned');
    this.events.publish({ type: 'device.status', endpoint, status: 'decommissioned', previous, at });
    this.log.info({ endpoint }, 'device decommissioned');
    return this.repo.get(endpoint)!;
  }

  updateLabels(endpoint: string, change: { kind: 'tags' | 'groups'; set?: string[]; add?: string[]; remove?: string[] }): DeviceRecord {
    const at = this.now();
    if (change.kind === 'tags') {
      if (change.set) this.repo.setTags(endpoint, change.set, at);
      if (change.add?.length) this.repo.addTags(endpoint, change.add, at);
      if (change.remove?.length) this.repo.removeTags(endpoint, change.remove, at);
    } else {
      if (change.set) this.repo.setGroups(endpoint, change.set, at);
      if (change.add?.length) this.repo.addGroups(endpoint, change.add, at);
      if (change.remove?.length) this.repo.removeGroups(endpoint, change.remove, at);
    }
    return this.repo.get(endpoint)!;
  }
}
