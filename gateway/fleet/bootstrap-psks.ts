import type { Logger } from '../../common/logger.js';
import { deriveBootstrapPsk } from '../../protocol/bootstrap-psk.js';
import type { SealingKey } from '../security/sealing-key.js';
import type { DeviceRepository } from '../store/device-repository.js';
import type { Channel } from './device-psks.js';

export interface BootstrapPsksOptions {
  repository: DeviceRepository;
  /** Called on the first secret sealed or opened (it may create the key file). */
  sealing: () => SealingKey;
  log: Logger;
  /** `lwm2m.bootstrapSecurity: psk`: a device that has a bootstrap PSK must bootstrap over DTLS. */
  required: boolean;
}

/**
 * The LwM2M Bootstrap-Server account of each device (LwM2M 1.1 §7.1: a Security instance with
 * Bootstrap-Server = true, Security Mode 0): PSK identity = endpoint name, key derived from the
 * factory secret (protocol/bootstrap-psk.ts), which the gateway keeps sealed from the import on
 * (AES-256-GCM, the endpoint as associated data; the SHA-256 beside it serves the MQTT factory
 * login). Devices imported before secrets were kept have none: they bootstrap over plain CoAP
 * as they did. Keys are derived when a handshake asks (bootstraps are rare), never stored or
 * logged.
 */
export class BootstrapPsks {
  private readonly listeners = new Set<(endpoint: string) => void>();

  constructor(private readonly opts: BootstrapPsksOptions) {}

  get required(): boolean {
    return this.opts.required;
  }

  /** The factory secret as the registry keeps it (at import). */
  seal(endpoint: string, secret: string): Buffer {
    return this.opts.sealing().seal(Buffer.from(secret, 'utf8'), context(endpoint));
  }

  /** The bootstrap DTLS server's lookup: the key of identity `endpoint`, if that device is in service and has one. */
  keyOf(identity: string): Buffer | undefined {
    const sealed = this.opts.repository.sealedFactorySecret(identity);
    if (!sealed) return undefined;
    try {
      return deriveBootstrapPsk(this.opts.sealing().open(sealed, context(identity)).toString('utf8'));
    } catch (err) {
      // Another data directory's key, or a value moved between rows: no key, and say so.
      this.opts.log.error({ endpoint: identity, reason: (err as Error).message }, 'the sealed factory secret does not open');
      return undefined;
    }
  }

  /** Devices whose factory secret was replaced (re-import) or revoked (decommission): their bootstrap sessions must end. */
  changed(endpoints: readonly string[]): void {
    for (const endpoint of endpoints) for (const listener of this.listeners) listener(endpoint);
  }

  onChange(listener: (endpoint: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  has(endpoint: string): boolean {
    return this.opts.repository.sealedFactorySecret(endpoint) !== undefined;
  }

  /**
   * Whether `endpoint` may bootstrap over this channel; the reason when not. Over DTLS the
   * session's identity must be the endpoint itself (its key is the one derived from its own
   * factory secret); over plain CoAP only a device without a bootstrap PSK may, or any device
   * when DTLS bootstrap is not required.
   */
  refusal(endpoint: string, channel: Channel): string | undefined {
    if (channel.scheme === 'coaps') return channel.pskIdentity === endpoint ? undefined : 'the DTLS session is not authenticated as this endpoint';
    if (this.opts.required && this.has(endpoint)) return 'this endpoint must bootstrap over DTLS (coaps) with its bootstrap key';
    return undefined;
  }

  /** At start: devices that can bootstrap only over plain CoAP, for the operator to re-import. */
  reportLegacy(): number {
    const count = this.opts.repository.countWithoutSealedFactorySecret();
    if (count > 0) {
      this.opts.log.warn(
        { devices: count },
        'devices imported before factory secrets were kept have no LwM2M bootstrap PSK: they can bootstrap only over plain CoAP (hasBootstrapPsk: false); re-import their factory CSV to give them one',
      );
    }
    return count;
  }
}

function context(endpoint: string): string {
  return `edgedm factory secret\0${endpoint}`;
}
