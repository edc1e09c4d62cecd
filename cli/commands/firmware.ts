import { basename } from 'node:path';
import type { Command } from 'commander';
import { apiFrom, output } from '../context.js';
import { ago, table } from '../format.js';

export interface FirmwareView {
  id: string;
  name: string;
  version: string;
  vendor: string;
  models: string[];
  size: number;
  sha256: string;
  createdAt: string;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A default package name from the file name: "sensor-fw-1.2.0.bin" → "sensor-fw". */
function nameFromFile(file: string): string {
  const stem = basename(file).replace(/\.[A-Za-z0-9]+$/, '');
  return stem.replace(/[-_]v?\d+(\.\d+)*.*$/, '').replace(/[^A-Za-z0-9._-]/g, '-') || 'firmware';
}

export function registerFirmwareCommands(program: Command): void {
  const firmware = program.command('firmware').description('the firmware repository: images and their signed manifests');

  firmware
    .command('add <image>')
    .description('store an image (content-addressed) and make it available to rollouts')
    .requiredOption('--version <version>', 'firmware version, e.g. 1.2.0')
    .requiredOption('--model <models>', 'device model(s) it is built for, comma-separated')
    .option('--name <name>', 'package name (default: from the file name)')
    .option('--vendor <vendor>', 'vendor named in the manifest (default: the gateway\'s)')
    .action(async (image: string, o: { version: string; model: string; name?: string; vendor?: string }, cmd: Command) => {
      const added = await apiFrom(cmd).upload<FirmwareView>('/api/v1/firmware', { name: o.name ?? nameFromFile(image), version: o.version, model: o.model, vendor: o.vendor }, image);
      output(cmd, added, () => `added ${added.id}: ${formatBytes(added.size)}, sha256 ${added.sha256.slice(0, 16)}…, for ${added.models.join(', ')}`);
    });

  firmware
    .command('list')
    .description('images in the repository')
    .action(async (_o: unknown, cmd: Command) => {
      const items = await apiFrom(cmd).getAll<FirmwareView>('/api/v1/firmware');
      output(cmd, items, () =>
        items.length === 0
          ? 'no firmware yet: edgedm firmware add <image> --version V --model M'
          : table(
              ['ID', 'SIZE', 'MODELS', 'SHA-256', 'ADDED'],
              items.map((f) => [f.id, formatBytes(f.size), f.models.join(','), `${f.sha256.slice(0, 12)}…`, ago(f.createdAt)]),
            ),
      );
    });
}
