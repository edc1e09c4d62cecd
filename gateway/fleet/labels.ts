import { compileTarget, parseTarget } from '../../protocol/targets/index.js';
import type { DeviceRepository, GroupSummary } from '../store/device-repository.js';

export type LabelKind = 'tags' | 'groups';

/**
 * Groups and tags as first-class registry objects: listed with their member counts, and put on
 * or taken off every device a target expression selects (resolved when the call is made).
 */
export class Labels {
  constructor(
    private readonly repo: DeviceRepository,
    private readonly now: () => number = Date.now,
  ) {}

  groups(): GroupSummary[] {
    return this.repo.listGroups();
  }

  tags(): { name: string; devices: number }[] {
    return this.repo.listTags();
  }

  group(name: string): GroupSummary | undefined {
    return this.repo.listGroups().find((g) => g.name === name);
  }

  /** False when the group exists already. Throws InvalidLabelError. */
  createGroup(name: string, description: string | null): boolean {
    return this.repo.createGroup(name, description, this.now());
  }

  /** Undefined when there is no such group; otherwise how many devices it had. */
  deleteGroup(name: string): number | undefined {
    return this.repo.deleteGroup(name);
  }

  /** Throws TargetSyntaxError or InvalidLabelError. Decommissioned devices are labelled too: labels are registry data. */
  apply(kind: LabelKind, label: string, target: string, action: 'add' | 'remove'): { matched: number; changed: number } {
    const matches = compileTarget(parseTarget(target));
    const endpoints = this.repo
      .list()
      .filter(matches)
      .map((d) => d.endpoint);
    return { matched: endpoints.length, changed: this.repo.relabel(kind, label, endpoints, action, this.now()) };
  }
}
