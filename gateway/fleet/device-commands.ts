import type { Logger } from '../../common/logger.js';
import { LwM2mPath, isSuccess, type Operation, type OperationResult } from '../../protocol/model/index.js';
import type { TransportKind } from '../../protocol/states.js';
import { DeviceLinkError, type DeviceLink, type DeviceLinkErrorKind } from '../device-link.js';
import { DeviceNotFoundError, type DeviceRepository } from '../store/device-repository.js';
import { DEVICE_INFO_PATHS, deviceInfoFromRecords } from './device-info.js';

export type DeviceUnavailableReason = 'decommissioned' | 'never-registered' | 'not-connected';

export class DeviceUnavailableError extends Error {
  constructor(
    readonly endpoint: string,
    readonly reason: DeviceUnavailableReason,
  ) {
    super(`${endpoint} is unavailable: ${reason.replace(/-/g, ' ')}`);
    this.name = 'DeviceUnavailableError';
  }
}

/**
 * How an operation sent to a device ended: it answered with a success code (`success`) or another
 * code (`failure`), or the link failed (`timeout`, `unreachable`, `cancelled`, `protocol`), or
 * something else went wrong (`error`).
 */
export type OperationOutcome = 'success' | 'failure' | DeviceLinkErrorKind | 'error';

export interface CompletedOperation {
  endpoint: string;
  transport: TransportKind;
  kind: Operation['kind'];
  outcome: OperationOutcome;
  seconds: number;
}

/**
 * Sends one model operation to one device through the DeviceLink of the device's transport.
 * The fleet layer never sees a transport, only this.
 */
export class DeviceCommands {
  private readonly links = new Map<TransportKind, DeviceLink>();
  private readonly operationListeners: ((endpoint: string, transport: TransportKind, kind: Operation['kind']) => void)[] = [];
  private readonly completionListeners: ((operation: CompletedOperation) => void)[] = [];

  constructor(
    private readonly repo: DeviceRepository,
    links: DeviceLink[],
    private readonly defaultTimeoutMs: number,
    private readonly log: Logger,
  ) {
    for (const link of links) this.links.set(link.transport, link);
  }

  /**
   * Throws DeviceNotFoundError, DeviceUnavailableError, or DeviceLinkError (timeout, unreachable).
   * `requestId` is a stable id for a request that may be sent again (fleet commands).
   */
  async execute(endpoint: string, operation: Operation, timeoutMs = this.defaultTimeoutMs, options: { requestId?: string } = {}): Promise<OperationResult> {
    const link = this.linkOf(endpoint);
    for (const listener of this.operationListeners) listener(endpoint, link.transport, operation.kind);
    const started = performance.now();
    let outcome: OperationOutcome = 'error';
    try {
      const result = await link.send(endpoint, operation, { timeoutMs, ...(options.requestId ? { requestId: options.requestId } : {}) });
      outcome = isSuccess(result.code) ? 'success' : 'failure';
      this.log.debug(
        { endpoint, op: operation.kind, path: operation.path.toString(), code: result.code, ms: Math.round(performance.now() - started) },
        'operation completed',
      );
      return result;
    } catch (err) {
      if (err instanceof DeviceLinkError) outcome = err.kind;
      throw err;
    } finally {
      const done: CompletedOperation = { endpoint, transport: link.transport, kind: operation.kind, outcome, seconds: (performance.now() - started) / 1000 };
      for (const listener of this.completionListeners) listener(done);
    }
  }

  /**
   * Reads the Device object and stores identity and firmware version in the registry; with the
   * boot id the device registered with, records that they were read during that boot.
   */
  async syncDeviceInfo(endpoint: string, bootId?: string): Promise<void> {
    try {
      const result = await this.execute(endpoint, { kind: 'read', path: LwM2mPath.of(3, 0) });
      let records = isSuccess(result.code) ? (result.content ?? []) : [];
      if (!isSuccess(result.code)) {
        // Some 1.0 clients (lwm2m-node-lib) read single resources only: ask for each.
        for (const path of DEVICE_INFO_PATHS) {
          const one = await this.execute(endpoint, { kind: 'read', path });
          if (isSuccess(one.code)) records = [...records, ...(one.content ?? [])];
        }
      }
      const info = deviceInfoFromRecords(records);
      if (info) {
        this.repo.updateInfo(endpoint, info, Date.now());
        if (bootId !== undefined) this.repo.markInfoRead(endpoint, bootId);
      }
    } catch (err) {
      const reason = err instanceof DeviceLinkError || err instanceof DeviceUnavailableError ? err.message : err;
      this.log.warn({ endpoint, reason }, 'could not read device information');
    }
  }

  /** Told of every operation sent to a device (accounting). */
  onOperation(listener: (endpoint: string, transport: TransportKind, kind: Operation['kind']) => void): void {
    this.operationListeners.push(listener);
  }

  /** Told of every operation sent to a device when it ends, answered or not, with how long it took (metrics). */
  onCompleted(listener: (operation: CompletedOperation) => void): void {
    this.completionListeners.push(listener);
  }

  isConnected(endpoint: string): boolean {
    for (const link of this.links.values()) if (link.isConnected(endpoint)) return true;
    return false;
  }

  /** Closes the device's session on whichever transport it is connected. */
  disconnect(endpoint: string, reason: string): void {
    for (const link of this.links.values()) link.disconnect(endpoint, reason);
  }

  private linkOf(endpoint: string): DeviceLink {
    const device = this.repo.get(endpoint);
    if (!device) throw new DeviceNotFoundError(endpoint);
    if (device.status === 'decommissioned') throw new DeviceUnavailableError(endpoint, 'decommissioned');
    if (!device.transport) throw new DeviceUnavailableError(endpoint, 'never-registered');
    const link = this.links.get(device.transport);
    if (!link || !link.isConnected(endpoint)) throw new DeviceUnavailableError(endpoint, 'not-connected');
    return link;
  }
}
