import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { ago, table } from '../format.js';
import { apiFrom, output } from '../context.js';

interface DeviceView {
  endpoint: string;
  status: string;
  transport: string | null;
  model: string | null;
  serialNumber: string | null;
  firmwareVersion: string | null;
  lastSeen: string | null;
  tags: string[];
  groups: string[];
  [key: string]: unknown;
}

export function registerDeviceCommands(program: Command): void {
  const devices = program.command('devices').description('list, show and import devices');

  devices
    .command('list', { isDefault: true })
    .description('list devices, optionally filtered by a target expression')
    .option('-t, --target <expr>', 'target expression, e.g. "status:online group:north"')
    .option('--limit <n>', 'page size', '1000')
    .option('--offset <n>', 'skip this many', '0')
    .action(async (opts: { target?: string; limit: string; offset: string }, cmd: Command) => {
      const page = await apiFrom(cmd).get<{ items: DeviceView[]; total: number }>('/api/v1/devices', {
        target: opts.target,
        limit: opts.limit,
        offset: opts.offset,
      });
      output(cmd, page, () => {
        const rows = page.items.map((d) => [
          d.endpoint,
          d.status,
          d.transport ?? '-',
          d.model ?? '-',
          d.firmwareVersion ?? '-',
          ago(d.lastSeen),
          [...d.groups.map((g) => `@${g}`), ...d.tags].join(' '),
        ]);
        return `${table(['ENDPOINT', 'STATUS', 'TRANSPORT', 'MODEL', 'FIRMWARE', 'LAST SEEN', 'GROUPS/TAGS'], rows)}\n${page.items.length} of ${page.total} device(s)`;
      });
    });

  devices
    .command('show <endpoint>')
    .description('show one device')
    .action(async (endpoint: string, _opts: unknown, cmd: Command) => {
      const device = await apiFrom(cmd).get<DeviceView>(`/api/v1/devices/${encodeURIComponent(endpoint)}`);
      output(cmd, device, () =>
        Object.entries(device)
          .map(([k, v]) => `${k.padEnd(16)} ${Array.isArray(v) ? v.join(', ') : String(v ?? '-')}`)
          .join('\n'),
      );
    });

  devices
    .command('import <csv>')
    .description('import factory identities from a CSV file (endpoint,secret[,model][,tags][,groups])')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      let csv: string;
      try {
        csv = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const result = await apiFrom(cmd).post<{ created: number; updated: number }>('/api/v1/devices/import', csv, 'text/csv');
      output(cmd, result, () => `imported ${result.created} new and ${result.updated} existing device(s)`);
    });

  devices
    .command('manage <endpoint> <address>')
    .description('manage a plain CoAP device that does not register itself, at coap://{IP}[:port]; the endpoint must be imported')
    .action(async (endpoint: string, address: string, _opts: unknown, cmd: Command) => {
      const device = await apiFrom(cmd).post<DeviceView>(`/api/v1/devices/${encodeURIComponent(endpoint)}/manage`, { address });
      output(cmd, device, () => `${device.endpoint} managed over CoAP at ${String(device.address ?? address)}: ${device.status}`);
    });

  devices
    .command('psk <endpoint>')
    .description('set a device\'s DTLS pre-shared key (LwM2M, or a plain CoAP device\'s Resource Directory, over coaps://); the key is shown this once. With one already set: --rotate, --remove or --show')
    .option('--rotate', 'replace the key the device has (it gets the new one at its next bootstrap, which the refused handshake sends it to)')
    .option('--identity <identity>', 'the PSK identity (default: the endpoint name)')
    .option('--key <hex>', 'the key, hex, 8–64 bytes (default: 16 random bytes)')
    .option('--remove', 'remove the key (the device is NoSec again, unless the gateway requires PSK)')
    .option('--show', 'show the identity only')
    .action(async (endpoint: string, opts: { rotate?: boolean; identity?: string; key?: string; remove?: boolean; show?: boolean }, cmd: Command) => {
      const api = apiFrom(cmd);
      const path = `/api/v1/devices/${encodeURIComponent(endpoint)}/psk`;
      if (opts.remove) {
        await api.delete(path);
        output(cmd, { endpoint, removed: true }, () => `${endpoint}: pre-shared key removed`);
        return;
      }
      const current = await api.get<{ identity: string; createdAt: string }>(path).catch((err: unknown) => {
        if (err instanceof CliError && /has no pre-shared key/.test(err.message)) return undefined;
        throw err;
      });
      if (opts.show) {
        if (!current) throw new CliError(`${endpoint} has no pre-shared key`);
        output(cmd, current, () => `${endpoint}: identity ${current.identity}, set ${current.createdAt}`);
        return;
      }
      if (current && !opts.rotate) throw new CliError(`${endpoint} already has a pre-shared key (identity ${current.identity}); --rotate replaces it`);
      const issued = await api.post<{ identity: string; key: string; rotated: boolean }>(path, {
        ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        ...(opts.key !== undefined ? { key: opts.key } : {}),
      });
      output(cmd, issued, () => `${endpoint}: pre-shared key ${issued.rotated ? 'rotated' : 'set'} (shown this once)\nidentity ${issued.identity}\nkey      ${issued.key}`);
    });

  program
    .command('decommission <endpoint>')
    .description('revoke a device: its credential stops working and its session is closed at once')
    .action(async (endpoint: string, _opts: unknown, cmd: Command) => {
      const device = await apiFrom(cmd).post<DeviceView>(`/api/v1/devices/${encodeURIComponent(endpoint)}/decommission`, {});
      output(cmd, device, () => `${device.endpoint} decommissioned`);
    });

  // `edgedm tag` and `edgedm group` (per device and by target) live in groups.ts.

  program
    .command('groups')
    .description('list groups and their member counts')
    .action(async (_opts: unknown, cmd: Command) => {
      const groups = { items: await apiFrom(cmd).getAll<{ name: string; members: number }>('/api/v1/groups') };
      output(cmd, groups, () => table(['GROUP', 'MEMBERS'], groups.items.map((g) => [g.name, String(g.members)])));
    });
}
