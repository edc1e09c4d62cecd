import { describeUpdateResult, FirmwareState, UpdateResult } from '../../protocol/firmware/index.js';
import { isSuccess, LwM2mPath, type Operation, type OperationResult } from '../../protocol/model/index.js';
import type { Firmware } from '../firmware/firmware-repository.js';
import type { Delivery, DeviceUpdateState } from './rollout-policy.js';
import type { DeviceChange, RolloutDevice } from './rollout-repository.js';

/** What the device reports: its Object 5 state and result, and the firmware it runs (/3/0/3). */
export interface DeviceFirmwareView {
  state: number;
  result: number;
  runningVersion: string | undefined;
}

export interface DeviceUpdateContext {
  firmware: Firmware;
  send(operation: Operation): Promise<OperationResult>;
  delivery: Delivery;
  /** A new transfer of the image to this device, with the Package URI a pull fetches. */
  newTransfer(): { uri: string; transferId: string };
  /** Starts pushing a transfer's package, or lets a running push go on (it resumes where the device stopped). */
  push(transferId: string): void;
  /** Whether a push to this device is under way. */
  pushing(): boolean;
  maxAttempts: number;
  now: number;
  retryDelayMs: number;
}

const OBJECT5 = LwM2mPath.of(5, 0);
const PACKAGE_URI = LwM2mPath.parse('/5/0/1');
const UPDATE = LwM2mPath.parse('/5/0/2');
const FIRMWARE_VERSION = LwM2mPath.parse('/3/0/3');

const TRANSIENT_RESULTS: ReadonlySet<number> = new Set([UpdateResult.CONNECTION_LOST]);

export class DeviceOperationFailed extends Error {}

async function readView(ctx: DeviceUpdateContext): Promise<DeviceFirmwareView> {
  const obj5 = await ctx.send({ kind: 'read', path: OBJECT5 });
  if (!isSuccess(obj5.code)) throw new DeviceOperationFailed(`read /5/0: ${obj5.code} ${obj5.message ?? ''}`.trim());
  const value = (path: string) => obj5.content?.find((r) => r.path.toString() === path)?.value;
  const version = await ctx.send({ kind: 'read', path: FIRMWARE_VERSION });
  return {
    state: Number(value('/5/0/3') ?? -1),
    result: Number(value('/5/0/5') ?? -1),
    runningVersion: isSuccess(version.code) ? (version.content?.[0]?.value as string | undefined) : undefined,
  };
}

async function writeUri(ctx: DeviceUpdateContext, uri: string): Promise<void> {
  const r = await ctx.send({ kind: 'write', path: PACKAGE_URI, mode: 'replace', content: [{ path: PACKAGE_URI, type: 'string', value: uri }] });
  if (!isSuccess(r.code)) throw new DeviceOperationFailed(`write /5/0/1: ${r.code} ${r.message ?? ''}`.trim());
}

const terminal = (state: DeviceUpdateState, extra: DeviceChange, now: number): DeviceChange => ({ state, finishedAt: now, nextCheckAt: null, ...extra });

/**
 * One reconciliation step of one device: compare what the device reports with where the
 * rollout has it, and take the next action. Idempotent, so a restarted gateway simply runs it
 * again: a device already on the target version is never updated a second time.
 */
export async function stepDevice(row: RolloutDevice, ctx: DeviceUpdateContext): Promise<DeviceChange> {
  const target = ctx.firmware.version;
  const view = await readView(ctx);
  const later = (ms: number): DeviceChange => ({ nextCheckAt: ctx.now + ms });

  switch (row.state) {
    case 'queued':
    case 'waiting-offline': {
      if (view.runningVersion === target && view.state !== FirmwareState.UPDATING) {
        return terminal('succeeded', { reason: row.attempts > 0 ? null : `already runs ${target}`, updateResult: null }, ctx.now);
      }
      if (view.state === FirmwareState.UPDATING) return later(ctx.retryDelayMs);
      if (view.state !== FirmwareState.IDLE) await writeUri(ctx, '');
      const { uri, transferId } = ctx.newTransfer();
      if (ctx.delivery === 'push') ctx.push(transferId);
      else await writeUri(ctx, uri);
      return {
        state: 'downloading',
        attempts: row.attempts + 1,
        transferId,
        fromVersion: row.fromVersion ?? view.runningVersion ?? null,
        startedAt: row.startedAt ?? ctx.now,
        reason: null,
        updateResult: null,
        ...later(ctx.retryDelayMs),
      };
    }
    case 'downloading':
    case 'downloaded': {
      if (view.state === FirmwareState.DOWNLOADING) {
        // A push cut short by a gateway restart or a lost link picks up where the device stopped.
        if (ctx.delivery === 'push' && row.transferId) ctx.push(row.transferId);
        return later(ctx.retryDelayMs);
      }
      if (view.state === FirmwareState.DOWNLOADED) {
        const r = await ctx.send({ kind: 'execute', path: UPDATE });
        if (!isSuccess(r.code)) throw new DeviceOperationFailed(`execute /5/0/2: ${r.code} ${r.message ?? ''}`.trim());
        return { state: 'updating', ...later(ctx.retryDelayMs) };
      }
      if (view.state === FirmwareState.UPDATING) return { state: 'updating', ...later(ctx.retryDelayMs) };
      if (view.state === FirmwareState.IDLE && view.runningVersion === target && view.result === UpdateResult.SUCCESS) {
        // Updated under an Execute the store never recorded (the gateway died right after sending it).
        return terminal('succeeded', { updateResult: view.result, reason: null }, ctx.now);
      }
      // Idle while the push is under way: block 0 has not landed yet, and the Update Result is
      // still the previous attempt's. The push's end (or a refusal) brings the next look.
      if (ctx.delivery === 'push' && view.state === FirmwareState.IDLE && ctx.pushing()) return later(ctx.retryDelayMs);
      return failure(row, view.result, ctx);
    }
    case 'updating': {
      if (view.state === FirmwareState.UPDATING || (view.state === FirmwareState.DOWNLOADED && view.result === UpdateResult.DEFERRED)) {
        return later(ctx.retryDelayMs);
      }
      if (view.state === FirmwareState.IDLE && view.runningVersion === target && view.result !== UpdateResult.UPDATE_FAILED) {
        return terminal('succeeded', { updateResult: view.result, reason: null }, ctx.now);
      }
      if (view.state === FirmwareState.DOWNLOADED) {
        // The device lost the Execute (e.g. rebooted first): ask again.
        return { state: 'downloading', ...later(0) };
      }
      return failure(row, view.result === UpdateResult.INITIAL ? UpdateResult.UPDATE_FAILED : view.result, ctx);
    }
    default:
      return {};
  }
}

function failure(row: RolloutDevice, result: number, ctx: DeviceUpdateContext): DeviceChange {
  if (result === UpdateResult.INITIAL) {
    // Idle with no result: the device forgot the job (reset, factory reset): start over.
    return { state: 'queued', nextCheckAt: ctx.now };
  }
  if (TRANSIENT_RESULTS.has(result) && row.attempts < ctx.maxAttempts) {
    return { state: 'queued', updateResult: result, reason: `${describeUpdateResult(result)}; retrying`, nextCheckAt: ctx.now + ctx.retryDelayMs * 2 ** row.attempts };
  }
  return terminal('failed', { updateResult: result, reason: describeUpdateResult(result) }, ctx.now);
}
