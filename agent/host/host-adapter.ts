import type { Duplex } from 'node:stream';
import type { FirmwareSlots } from './firmware-slots.js';

/**
 * The hardware boundary of the agent. The object tree reads the device through this and
 * nothing else, so the same agent code runs on a Linux host or on simulated hardware.
 * Units follow the LwM2M Device (3) and Connectivity Monitoring (4) objects.
 */
export interface DeviceIdentity {
  manufacturer: string;
  model: string;
  serialNumber: string;
  firmwareVersion: string;
  hardwareVersion: string;
  softwareVersion: string;
  deviceType: string;
}

/** LwM2M /3/0/6 Available Power Sources values. */
export const PowerSourceKind = { DC: 0, INTERNAL_BATTERY: 1, EXTERNAL_BATTERY: 2, POE: 4, USB: 5, AC_MAINS: 6, SOLAR: 7 } as const;

/** LwM2M /3/0/20 Battery Status values. */
export const BatteryStatus = { NORMAL: 0, CHARGING: 1, CHARGE_COMPLETE: 2, DAMAGED: 3, LOW: 4, NOT_INSTALLED: 5, UNKNOWN: 6 } as const;

export interface PowerSource {
  kind: number;
  voltageMv: number;
  currentMa: number;
}

export interface PowerState {
  sources: PowerSource[];
  /** Percent, when the device has a battery. */
  batteryLevel?: number;
  batteryStatus?: number;
}

export interface MemoryState {
  totalKiB: number;
  freeKiB: number;
}

/** LwM2M /4/0/0 Network Bearer values (subset). */
export const NetworkBearer = { GSM: 0, WCDMA: 2, LTE_TDD: 5, LTE_FDD: 6, NB_IOT: 7, WLAN: 21, BLUETOOTH: 22, IEEE_802_15_4: 23, ETHERNET: 41 } as const;

export interface NetworkState {
  bearer: number;
  availableBearers: number[];
  /** dBm; for wired links the registry asks for 0 … we report 0. */
  signalStrength: number;
  linkQuality?: number;
  ipAddresses: string[];
  routerAddresses: string[];
  cellId?: number;
}

/** LwM2M /3/0/11 Error Code values raised by hosts. */
export const DeviceErrorCode = {
  NONE: 0,
  LOW_BATTERY: 1,
  EXTERNAL_POWER_OFF: 2,
  GPS_FAILURE: 3,
  LOW_SIGNAL: 4,
  OUT_OF_MEMORY: 5,
  SMS_FAILURE: 6,
  IP_CONNECTIVITY_FAILURE: 7,
  PERIPHERAL_MALFUNCTION: 8,
} as const;

/**
 * The device's own IP link, when the host models one (simulated hardware): the agent opens its
 * server connections through it, so the link can be cut or slowed as a radio's would be.
 */
export interface Radio {
  /** A TCP stream to host:port; it fails (or is cut) while the link is down. */
  connect(host: string, port: number): Duplex;
}

export interface HostAdapter {
  readonly kind: 'linux' | 'simulated';
  /** A/B firmware slots, when the device can update its firmware (Object 5). */
  readonly firmware?: FirmwareSlots;
  /** The device's radio; absent: connections use the operating system's network stack. */
  readonly radio?: Radio;
  identity(): DeviceIdentity;
  memory(): MemoryState;
  power(): PowerState;
  network(): NetworkState;
  /** Conditions the hardware reports now (never 0; an empty list means no error). */
  errorCodes(): number[];
  now(): Date;
  /** Restarts the device (or what of it the host may restart); resolves when it is back. */
  reboot(): Promise<void>;
  /** Wipes device data outside the agent's state directory, if the host has any. */
  factoryReset(): Promise<void>;
  close(): void;
}
