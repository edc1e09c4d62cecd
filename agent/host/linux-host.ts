import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { hostname, networkInterfaces, release, totalmem, freemem } from 'node:os';
import { promisify } from 'node:util';
import type { Logger } from '../../common/logger.js';
import {
  BatteryStatus,
  DeviceErrorCode,
  NetworkBearer,
  PowerSourceKind,
  type DeviceIdentity,
  type HostAdapter,
  type MemoryState,
  type NetworkState,
  type PowerState,
} from './host-adapter.js';

export interface LinuxHostOptions {
  agentVersion: string;
  /**
   * Run to reboot the machine, e.g. ["systemctl", "reboot"]. Without it a reboot restarts the
   * agent only: rebooting a developer's laptop because a server asked is not a default.
   */
  rebootCommand?: string[];
  log?: Logger;
  /** Root of /proc and /sys, for tests. */
  root?: string;
}

const run = promisify(execFile);

/** The real host, read from os, /proc and /sys. Anything the host does not expose is left out. */
export class LinuxHost implements HostAdapter {
  readonly kind = 'linux';
  private readonly root: string;

  constructor(private readonly opts: LinuxHostOptions) {
    this.root = opts.root ?? '';
  }

  identity(): DeviceIdentity {
    const dmi = (f: string) => this.read(`/sys/devices/virtual/dmi/id/${f}`);
    const deviceTreeModel = this.read('/proc/device-tree/model')?.replace(/\0/g, '');
    const osRelease = parseOsRelease(this.read('/etc/os-release') ?? '');
    return {
      manufacturer: dmi('sys_vendor') ?? (deviceTreeModel?.startsWith('Raspberry Pi') ? 'Raspberry Pi Ltd' : 'unknown'),
      model: deviceTreeModel ?? dmi('product_name') ?? 'Linux host',
      serialNumber: this.read('/proc/device-tree/serial-number')?.replace(/\0/g, '') ?? this.read('/etc/machine-id') ?? hostname(),
      firmwareVersion: osRelease.VERSION_ID ? `${osRelease.ID ?? 'linux'} ${osRelease.VERSION_ID}` : release(),
      hardwareVersion: dmi('product_version') ?? dmi('board_version') ?? '',
      softwareVersion: `edgedm-agent ${this.opts.agentVersion}; linux ${release()}`,
      deviceType: 'gateway',
    };
  }

  memory(): MemoryState {
    const info = parseMeminfo(this.read('/proc/meminfo') ?? '');
    return {
      totalKiB: info.MemTotal ?? Math.floor(totalmem() / 1024),
      freeKiB: info.MemAvailable ?? Math.floor(freemem() / 1024),
    };
  }

  power(): PowerState {
    const supplies = this.list('/sys/class/power_supply');
    const battery = supplies.find((s) => this.read(`/sys/class/power_supply/${s}/type`) === 'Battery');
    if (!battery) return { sources: [{ kind: PowerSourceKind.DC, voltageMv: 0, currentMa: 0 }] };
    const base = `/sys/class/power_supply/${battery}`;
    const num = (f: string) => Number(this.read(`${base}/${f}`) ?? NaN);
    const status = this.read(`${base}/status`);
    const capacity = num('capacity');
    return {
      sources: [
        { kind: PowerSourceKind.INTERNAL_BATTERY, voltageMv: Math.round(num('voltage_now') / 1000) || 0, currentMa: Math.round(num('current_now') / 1000) || 0 },
      ],
      ...(Number.isFinite(capacity) ? { batteryLevel: capacity } : {}),
      batteryStatus:
        status === 'Charging' ? BatteryStatus.CHARGING : status === 'Full' ? BatteryStatus.CHARGE_COMPLETE : capacity < 15 ? BatteryStatus.LOW : BatteryStatus.NORMAL,
    };
  }

  network(): NetworkState {
    const addresses: string[] = [];
    let bearer: number = NetworkBearer.ETHERNET;
    for (const [name, infos] of Object.entries(networkInterfaces())) {
      for (const info of infos ?? []) {
        if (info.internal) continue;
        addresses.push(info.address);
        if (/^wl/.test(name)) bearer = NetworkBearer.WLAN;
      }
    }
    return { bearer, availableBearers: [bearer], signalStrength: 0, ipAddresses: addresses, routerAddresses: this.defaultRoutes() };
  }

  errorCodes(): number[] {
    const codes: number[] = [];
    const mem = this.memory();
    if (mem.freeKiB < mem.totalKiB * 0.02) codes.push(DeviceErrorCode.OUT_OF_MEMORY);
    const power = this.power();
    if (power.batteryStatus === BatteryStatus.LOW) codes.push(DeviceErrorCode.LOW_BATTERY);
    if (this.network().ipAddresses.length === 0) codes.push(DeviceErrorCode.IP_CONNECTIVITY_FAILURE);
    return codes;
  }

  now(): Date {
    return new Date();
  }

  async reboot(): Promise<void> {
    const cmd = this.opts.rebootCommand;
    if (!cmd?.length) {
      this.opts.log?.warn('reboot requested: restarting the agent only (no rebootCommand configured)');
      return;
    }
    this.opts.log?.warn({ command: cmd[0] }, 'reboot requested: rebooting the host');
    await run(cmd[0]!, cmd.slice(1));
  }

  async factoryReset(): Promise<void> {
    // The agent's own state is wiped by the agent; a Linux host has nothing else we own.
  }

  close(): void {}

  /** The gateways of default routes, from /proc/net/route (little-endian hex). */
  private defaultRoutes(): string[] {
    const lines = (this.read('/proc/net/route') ?? '').split('\n').slice(1);
    const out: string[] = [];
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f[1] !== '00000000' || !f[2] || f[2] === '00000000') continue;
      const n = Number.parseInt(f[2], 16);
      out.push([n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255].join('.'));
    }
    return [...new Set(out)];
  }

  private read(path: string): string | undefined {
    try {
      const text = readFileSync(this.root + path, 'utf8').trim();
      return text === '' ? undefined : text;
    } catch {
      return undefined;
    }
  }

  private list(path: string): string[] {
    try {
      return readdirSync(this.root + path);
    } catch {
      return [];
    }
  }
}

export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)\s*kB/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
    if (m) out[m[1]!] = m[3]!;
  }
  return out;
}
