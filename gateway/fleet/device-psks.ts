import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/logger.js';
import { DeviceNotFoundError, type DeviceRepository } from '../store/device-repository.js';
import type { DevicePsk, DevicePskStore } from '../store/device-psk-store.js';

/** Bytes of a generated key: 128 bits, the strength of the AES-128 suites it keys. */
export const GENERATED_PSK_BYTES = 16;
/** RFC 4279 §5.3: identities up to 2^16 − 1 bytes; LwM2M ones are short, and they show in logs of peers. */
const MAX_IDENTITY_BYTES = 128;
const MIN_KEY_BYTES = 8;
/** RFC 4279 §5.3: at least 64 bytes must be supported; more gains nothing. */
const MAX_KEY_BYTES = 64;

export class PskRequestError extends Error {
  constructor(
    readonly kind: 'invalid' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'PskRequestError';
  }
}

/** How a request reached the LwM2M server, as far as authentication goes. */
export interface Channel {
  scheme: 'coap' | 'coaps';
  /** Over DTLS: the PSK identity the session authenticated with. */
  pskIdentity?: string;
}

export type PskChangeListener = (endpoint: string, previous: DevicePsk | undefined) => void;

export interface DevicePsksOptions {
  store: DevicePskStore;
  repository: DeviceRepository;
  log: Logger;
  /** `lwm2m.security: psk`: every LwM2M device gets a PSK at bootstrap and NoSec registrations are refused. */
  required: boolean;
  /** Whether the gateway serves coaps:// at all: without it, a PSK is of no use and is not set. */
  dtlsEnabled: boolean;
  now?: () => number;
}

/**
 * Per-device DTLS pre-shared keys (LwM2M Security Mode 0): what the operator provisions and
 * rotates, what the bootstrap server hands out, what the DTLS server looks identities up in, and
 * who may register over which channel. Keys are never logged; the API shows one only when it
 * is set.
 */
export class DevicePsks {
  private readonly listeners = new Set<PskChangeListener>();
  private readonly now: () => number;

  constructor(private readonly opts: DevicePsksOptions) {
    this.now = opts.now ?? Date.now;
  }

  get required(): boolean {
    return this.opts.required;
  }

  get(endpoint: string): DevicePsk | undefined {
    return this.opts.store.get(endpoint);
  }

  /**
   * Sets a device's PSK: the given identity and key, or a generated key (and the endpoint name
   * as identity). Replacing one is a rotation: the device's DTLS sessions end, and it gets the
   * new key at its next bootstrap (its handshake with the old one fails, which sends it there).
   */
  provision(endpoint: string, request: { identity?: string; key?: Buffer } = {}): DevicePsk {
    const device = this.opts.repository.get(endpoint);
    if (!device) throw new DeviceNotFoundError(endpoint);
    if (device.status === 'decommissioned') throw new PskRequestError('conflict', `${endpoint} is decommissioned`);
    if (!this.opts.dtlsEnabled) throw new PskRequestError('conflict', 'CoAP over DTLS is off on this gateway (coap.dtls.enabled): a PSK would be of no use');
    const identity = request.identity ?? endpoint;
    const bytes = Buffer.byteLength(identity, 'utf8');
    if (bytes < 1 || bytes > MAX_IDENTITY_BYTES || /[\u0000-\u001f\u007f]/.test(identity)) {
      throw new PskRequestError('invalid', `the PSK identity must be 1–${MAX_IDENTITY_BYTES} bytes of UTF-8 without control characters`);
    }
    const key = request.key ?? randomBytes(GENERATED_PSK_BYTES);
    if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) throw new PskRequestError('invalid', `the key must be ${MIN_KEY_BYTES}–${MAX_KEY_BYTES} bytes`);
    const previous = this.opts.store.get(endpoint);
    const psk = this.opts.store.set(endpoint, identity, key, this.now());
    this.opts.log.info({ endpoint, identity, rotated: previous !== undefined, generated: request.key === undefined }, 'device PSK set');
    this.changed(endpoint, previous);
    return psk;
  }

  /** Removes a device's PSK (it is NoSec again, unless PSK is required); false when it had none. */
  remove(endpoint: string): boolean {
    if (!this.opts.repository.get(endpoint)) throw new DeviceNotFoundError(endpoint);
    const previous = this.opts.store.get(endpoint);
    if (!this.opts.store.remove(endpoint)) return false;
    this.opts.log.info({ endpoint }, 'device PSK removed');
    this.changed(endpoint, previous);
    return true;
  }

  /** Told when a device's PSK is set, replaced or removed (its sessions under the old one must end). */
  onChange(listener: PskChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The DTLS server's lookup: the key of an identity, if it belongs to a device still in service. */
  keyOf(identity: string): Buffer | undefined {
    const psk = this.opts.store.byIdentity(identity);
    if (!psk) return undefined;
    const device = this.opts.repository.get(psk.endpoint);
    return device && device.status !== 'decommissioned' ? psk.key : undefined;
  }

  /** What LwM2M bootstrap hands out: the device's PSK, made now when PSK is required and it has none. */
  forBootstrap(endpoint: string): DevicePsk | undefined {
    const existing = this.opts.store.get(endpoint);
    if (existing || !this.opts.required) return existing;
    const psk = this.opts.store.set(endpoint, endpoint, randomBytes(GENERATED_PSK_BYTES), this.now());
    this.opts.log.info({ endpoint, identity: psk.identity }, 'generated a device PSK at bootstrap');
    return psk;
  }

  /**
   * Whether `endpoint` may register (or update, de-register) over this channel; the reason when
   * not. Over DTLS the session's identity must be the endpoint's own; without DTLS only a device
   * with no PSK may, and only when PSK is not required.
   */
  refusal(endpoint: string, channel: Channel): string | undefined {
    return this.refusalOf(endpoint, channel, this.opts.required);
  }

  /**
   * The same for a plain CoAP device registering with the Resource Directory: it has no
   * bootstrap to be given a PSK, so only a device the operator gave one must use DTLS, whatever
   * `lwm2m.security` says.
   */
  directoryRefusal(endpoint: string, channel: Channel): string | undefined {
    return this.refusalOf(endpoint, channel, false);
  }

  private refusalOf(endpoint: string, channel: Channel, required: boolean): string | undefined {
    const psk = this.opts.store.get(endpoint);
    if (channel.scheme === 'coaps') {
      if (!psk || channel.pskIdentity !== psk.identity) return 'the DTLS session is not authenticated as this endpoint';
      return undefined;
    }
    if (psk) return 'this endpoint must register over DTLS (coaps) with its pre-shared key';
    if (required) return 'this server requires DTLS (coaps) with a pre-shared key';
    return undefined;
  }

  private changed(endpoint: string, previous: DevicePsk | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(endpoint, previous);
      } catch (err) {
        this.opts.log.warn({ endpoint, err: (err as Error).message }, 'PSK change listener failed');
      }
    }
  }
}
