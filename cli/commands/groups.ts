import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { apiFrom, output } from '../context.js';
import { table } from '../format.js';

interface Change {
  name: string;
  matched: number;
  changed: number;
  members: number;
}

const enc = encodeURIComponent;

/** `edgedm tag|group <endpoint> <label…>`: one device's labels (the original per-device form). */
function addDeviceForm(parent: Command, kind: 'tag' | 'group'): void {
  parent
    .command(`device <endpoint> [${kind}s...]`, { isDefault: true, hidden: true })
    .description(`add ${kind}s to one device (--remove to take them off, --set to replace all)`)
    .option('--remove', `remove the given ${kind}s instead`)
    .option('--set', `replace all ${kind}s of the device with the given ones`)
    .action(async (endpoint: string, labels: string[], opts: { remove?: boolean; set?: boolean }, cmd: Command) => {
      if (labels.length === 0 && !opts.set) throw new CliError(`name at least one ${kind}`);
      const change = opts.set ? { set: labels } : opts.remove ? { remove: labels } : { add: labels };
      const device = await apiFrom(cmd).post<{ endpoint: string; tags: string[]; groups: string[] }>(`/api/v1/devices/${enc(endpoint)}/${kind}s`, change);
      const now = kind === 'tag' ? device.tags : device.groups;
      output(cmd, device, () => `${device.endpoint} ${kind}s: ${now.length ? now.join(', ') : '(none)'}`);
    });
}

/** Puts a label on, or takes it off, every device a target selects. */
function addTargetForms(parent: Command, kind: 'tag' | 'group', path: string): void {
  for (const action of ['add', 'remove'] as const) {
    parent
      .command(`${action} <name>`)
      .description(`${action === 'add' ? 'put' : 'take'} the ${kind} ${action === 'add' ? 'on' : 'off'} every device a target selects`)
      .requiredOption('--target <expr>', 'which devices, e.g. "model:EDM-TH1 fw:1.0.*"')
      .action(async (name: string, o: { target: string }, cmd: Command) => {
        const r = await apiFrom(cmd).post<Change>(`${path}/${enc(name)}/${action}`, { target: o.target });
        output(cmd, r, () => `${r.name}: ${r.matched} matched, ${r.changed} ${action === 'add' ? 'added' : 'removed'}, ${r.members} member(s) now`);
      });
  }
}

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('groups: list, create, delete, add or remove devices by target (or `group <endpoint> <group…>`)');
  group
    .command('list')
    .description('groups with their member counts')
    .action(async (_o: unknown, cmd: Command) => {
      const r = { items: await apiFrom(cmd).getAll<{ name: string; members: number; description: string | null }>('/api/v1/groups') };
      output(cmd, r, () => (r.items.length === 0 ? 'no groups yet' : table(['GROUP', 'MEMBERS', 'DESCRIPTION'], r.items.map((g) => [g.name, String(g.members), g.description ?? '']))));
    });
  group
    .command('create <name>')
    .description('create an empty group')
    .option('--description <text>', 'what the group is for')
    .action(async (name: string, o: { description?: string }, cmd: Command) => {
      const r = await apiFrom(cmd).post<{ name: string }>('/api/v1/groups', { name, description: o.description });
      output(cmd, r, () => `group ${r.name} created`);
    });
  group
    .command('delete <name>')
    .description('delete a group (its devices stay, without it)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const r = await apiFrom(cmd).delete<{ name: string; removedMembers: number }>(`/api/v1/groups/${enc(name)}`);
      output(cmd, r, () => `group ${r.name} deleted (${r.removedMembers} member(s) left it)`);
    });
  addTargetForms(group, 'group', '/api/v1/groups');
  addDeviceForm(group, 'group');

  const tag = program.command('tag').description('tags: list, add or remove on devices by target (or `tag <endpoint> <tag…>`)');
  tag
    .command('list')
    .description('tags in use and how many devices carry each')
    .action(async (_o: unknown, cmd: Command) => {
      const r = { items: await apiFrom(cmd).getAll<{ name: string; devices: number }>('/api/v1/tags') };
      output(cmd, r, () => (r.items.length === 0 ? 'no tags yet' : table(['TAG', 'DEVICES'], r.items.map((t) => [t.name, String(t.devices)]))));
    });
  addTargetForms(tag, 'tag', '/api/v1/tags');
  addDeviceForm(tag, 'tag');
}
