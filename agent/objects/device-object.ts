import { ResultCode } from '../../protocol/model/index.js';
import { defaultObjectRegistry, DeviceResource, ObjectId } from '../../protocol/model/objects/index.js';
import type { HostAdapter } from '../host/host-adapter.js';
import type { StateStore } from '../state/state-store.js';
import { ObjectInstance, OperationError } from './instance.js';

export interface DeviceActions {
  reboot(): void;
  factoryReset(): void;
}

interface DeviceSettings {
  utcOffset?: string;
  timezone?: string;
  /** Milliseconds added to the host clock after a server wrote Current Time. */
  clockOffsetMs?: number;
}

const STATE_KEY = 'device';
/** LwM2M asks the device to answer the Execute first and act afterwards. */
const ACTION_DELAY_MS = 50;

const indexed = <T>(values: readonly T[]) => new Map(values.map((v, i) => [i, v]));

/**
 * Object 3, Device: identity, power, memory and clock read live from the host adapter;
 * reboot and factory reset carried out by the agent. Error codes combine what the host
 * reports with what the agent raised, until the server resets them (/3/0/12).
 */
export class DeviceObject extends ObjectInstance {
  private readonly raisedErrors = new Set<number>();
  private clearedHostErrors = new Set<number>();

  constructor(
    private readonly host: HostAdapter,
    state: StateStore,
    supportedBindings: string,
    actions: DeviceActions,
  ) {
    super(defaultObjectRegistry.get(ObjectId.DEVICE)!, 0);
    const identity = host.identity();
    const settings = (): DeviceSettings => state.read<DeviceSettings>(STATE_KEY) ?? {};
    const save = (change: Partial<DeviceSettings>) => state.write(STATE_KEY, { ...settings(), ...change });

    this.resource(DeviceResource.MANUFACTURER, { read: () => identity.manufacturer });
    this.resource(DeviceResource.MODEL_NUMBER, { read: () => identity.model });
    this.resource(DeviceResource.SERIAL_NUMBER, { read: () => identity.serialNumber });
    this.resource(DeviceResource.FIRMWARE_VERSION, { read: () => this.host.identity().firmwareVersion });
    this.resource(DeviceResource.REBOOT, { execute: () => void setTimeout(() => actions.reboot(), ACTION_DELAY_MS) });
    this.resource(DeviceResource.FACTORY_RESET, { execute: () => void setTimeout(() => actions.factoryReset(), ACTION_DELAY_MS) });
    this.resource(DeviceResource.AVAILABLE_POWER_SOURCES, { read: () => indexed(host.power().sources.map((s) => s.kind)) });
    this.resource(DeviceResource.POWER_SOURCE_VOLTAGE, { read: () => indexed(host.power().sources.map((s) => s.voltageMv)) });
    this.resource(DeviceResource.POWER_SOURCE_CURRENT, { read: () => indexed(host.power().sources.map((s) => s.currentMa)) });
    this.resource(DeviceResource.BATTERY_LEVEL, { read: () => host.power().batteryLevel });
    this.resource(DeviceResource.MEMORY_FREE, { read: () => host.memory().freeKiB });
    this.resource(DeviceResource.ERROR_CODE, { read: () => indexed(this.errorCodes()) });
    this.resource(DeviceResource.RESET_ERROR_CODE, {
      execute: () => {
        this.raisedErrors.clear();
        this.clearedHostErrors = new Set(host.errorCodes());
        this.changed(DeviceResource.ERROR_CODE);
      },
    });
    this.resource(DeviceResource.CURRENT_TIME, {
      read: () => new Date(host.now().getTime() + (settings().clockOffsetMs ?? 0)),
      write: (v) => save({ clockOffsetMs: (v as Date).getTime() - host.now().getTime() }),
    });
    this.resource(DeviceResource.UTC_OFFSET, {
      read: () => settings().utcOffset,
      write: (v) => {
        if (!/^(UTC)?[+-]\d{2}(:?\d{2})?$/.test(v as string)) throw new OperationError(ResultCode.BAD_REQUEST, 'UTC offset must look like +01:00 or UTC+01:00');
        save({ utcOffset: v as string });
      },
    });
    this.resource(DeviceResource.TIMEZONE, {
      read: () => settings().timezone,
      write: (v) => {
        if (!isIanaTimezone(v as string)) throw new OperationError(ResultCode.BAD_REQUEST, `"${String(v)}" is not an IANA time zone, e.g. Europe/Zurich`);
        save({ timezone: v as string });
      },
    });
    this.resource(DeviceResource.SUPPORTED_BINDING_AND_MODES, { read: () => supportedBindings });
    this.resource(DeviceResource.DEVICE_TYPE, { read: () => identity.deviceType });
    this.resource(DeviceResource.HARDWARE_VERSION, { read: () => identity.hardwareVersion || undefined });
    this.resource(DeviceResource.SOFTWARE_VERSION, { read: () => identity.softwareVersion });
    this.resource(DeviceResource.BATTERY_STATUS, { read: () => host.power().batteryStatus });
    this.resource(DeviceResource.MEMORY_TOTAL, { read: () => host.memory().totalKiB });
  }

  /** Raises an error code (LwM2M /3/0/11) until the server resets it. */
  raiseError(code: number): void {
    if (code === 0 || this.raisedErrors.has(code)) return;
    this.raisedErrors.add(code);
    this.changed(DeviceResource.ERROR_CODE);
  }

  /** Current error codes; `[0]` means none, as the registry specifies. */
  errorCodes(): number[] {
    const host = this.host.errorCodes().filter((c) => !this.clearedHostErrors.has(c));
    const codes = [...new Set([...host, ...this.raisedErrors])].sort((a, b) => a - b);
    return codes.length > 0 ? codes : [0];
  }
}

function isIanaTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return /\//.test(tz) || tz === 'UTC';
  } catch {
    return false;
  }
}
