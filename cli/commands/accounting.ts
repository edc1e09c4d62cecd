import type { Command } from 'commander';
import { apiFrom, output } from '../context.js';
import { table } from '../format.js';
import { formatBytes } from './firmware.js';

interface LedgerRowView {
  endpoint: string;
  period: string;
  transport: string;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  firmwareBytes: number;
  operations: Record<string, number>;
}

interface Options {
  device?: string;
  from?: string;
  to?: string;
  group?: string;
  csv?: boolean;
}

export function registerAccountingCommands(program: Command): void {
  program
    .command('accounting')
    .description('the per-device ledger of management traffic, operations and firmware bytes')
    .option('--device <endpoint>', 'one device')
    .option('--from <time>', 'ISO time or a duration before now (24h, 7d); default 24h')
    .option('--to <time>', 'ISO time or a duration before now; default now')
    .option('--group <period>', 'hour | day', 'hour')
    .option('--csv', 'print CSV (for spreadsheets and billing)')
    .action(async (o: Options, cmd: Command) => {
      const api = apiFrom(cmd);
      const query = { endpoint: o.device, from: o.from, to: o.to, group: o.group };
      if (o.csv) {
        process.stdout.write(await api.getText('/api/v1/accounting', { ...query, format: 'csv' }));
        return;
      }
      // The range and the rows, every page of them.
      const first = await api.get<{ from: string; to: string; items: LedgerRowView[]; total?: number }>('/api/v1/accounting', { ...query, limit: 1 });
      const r = { from: first.from, to: first.to, items: await api.getAll<LedgerRowView>('/api/v1/accounting', { ...query, from: first.from, to: first.to }) };
      output(cmd, r, () =>
        r.items.length === 0
          ? `nothing accounted between ${r.from} and ${r.to}`
          : table(
              ['DEVICE', 'PERIOD', 'TRANSPORT', 'MSG IN', 'MSG OUT', 'BYTES IN', 'BYTES OUT', 'FIRMWARE', 'OPERATIONS'],
              r.items.map((i) => [
                i.endpoint,
                i.period,
                i.transport,
                String(i.messagesIn),
                String(i.messagesOut),
                formatBytes(i.bytesIn),
                formatBytes(i.bytesOut),
                formatBytes(i.firmwareBytes),
                Object.entries(i.operations)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', '),
              ]),
            ),
      );
    });
}
