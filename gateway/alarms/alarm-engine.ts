import type { Logger } from '../../common/logger.js';
import type { JsonRecord } from '../../protocol/model/index.js';
import type { EventBus, GatewayEvent } from '../events.js';
import type { DeviceRepository } from '../store/device-repository.js';
import type { AlarmFilter, AlarmRepository } from './alarm-repository.js';
import { AlarmRuleError, type AlarmRule, type AlarmRuleInput } from './alarm-rules.js';
import type { AlarmRuleRepository } from './alarm-rule-repository.js';
import { alarmView, type Alarm, type AlarmView } from './alarm-view.js';
import { OfflineWatch } from './offline-watch.js';
import { conditionHolds, conditionPersists, valuesFor } from './value-condition.js';

export interface AlarmEngineOptions {
  rules: AlarmRuleRepository;
  alarms: AlarmRepository;
  devices: DeviceRepository;
  events: EventBus;
  log: Logger;
  /** How often offline devices are checked against the offline rules. */
  offlineCheckIntervalMs: number;
  /** After a start, offline alarms wait this long for devices to reconnect. */
  restartGraceMs: number;
  now?: () => number;
}

export class AlarmError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'AlarmError';
  }
}

/** Update states of a rollout device that mean its update failed. */
const FAILED_UPDATE_STATES = new Set(['failed', 'timed-out']);

/**
 * Fault management (Y.4702 8.2): evaluates the alarm rules on observed values, device status and
 * rollout outcomes; raises one alarm per rule and device while the condition holds, clears it
 * when the condition is gone, lets an operator acknowledge it. Every change is written to SQL
 * first, then published on the event bus (`alarm.raised`, `alarm.cleared`, `alarm.acknowledged`).
 */
export class AlarmEngine {
  private rules: AlarmRule[] = [];
  /** Open alarms by rule and device: the one-per-pair rule, and a lookup that needs no SQL. */
  private readonly open = new Map<string, number>();
  private readonly watch: OfflineWatch;
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  constructor(private readonly opts: AlarmEngineOptions) {
    this.now = opts.now ?? Date.now;
    this.reloadRules();
    for (const a of opts.alarms.open()) this.open.set(key(a.ruleId, a.endpoint), a.id);
    this.watch = new OfflineWatch(opts.offlineCheckIntervalMs, (endpoint, since, notBefore) => this.checkOffline(endpoint, since, notBefore));
    // Resume after a restart: every device offline now is offline since its last-seen.
    const notBefore = this.now() + opts.restartGraceMs;
    for (const d of opts.devices.list()) {
      if (d.status === 'offline' && d.lastSeen !== null) this.watch.wentOffline(d.endpoint, d.lastSeen, notBefore);
    }
    this.unsubscribe = opts.events.subscribe((event) => this.handle(event));
  }

  // ---- rules ------------------------------------------------------------------------------

  listRules(): AlarmRule[] {
    return this.rules;
  }

  getRule(id: string): AlarmRule | undefined {
    return this.rules.find((r) => r.id === id);
  }

  createRule(input: AlarmRuleInput): AlarmRule {
    const rule = this.opts.rules.create(input);
    this.reloadRules();
    this.opts.log.info({ rule: rule.id, kind: rule.kind, severity: rule.severity }, 'alarm rule created');
    this.watch.sweep();
    return rule;
  }

  /** A changed rule keeps its open alarms; the next evaluation decides whether they still hold. */
  replaceRule(id: string, input: AlarmRuleInput): AlarmRule {
    const rule = this.opts.rules.replace(id, input);
    this.reloadRules();
    if (!rule.enabled) this.clearRule(id, 'rule disabled');
    this.opts.log.info({ rule: id }, 'alarm rule changed');
    this.watch.sweep();
    return rule;
  }

  /** Deleting a rule clears its open alarms (the history stays). */
  deleteRule(id: string): void {
    this.opts.rules.delete(id);
    this.reloadRules();
    this.clearRule(id, 'rule deleted');
    this.opts.log.info({ rule: id }, 'alarm rule deleted');
  }

  // ---- alarms ----------------------------------------------------------------------------

  list(filter: AlarmFilter): { items: AlarmView[]; total: number } {
    const { items, total } = this.opts.alarms.list(filter);
    return { items: items.map(alarmView), total };
  }

  get(id: number): AlarmView | undefined {
    const a = this.opts.alarms.get(id);
    return a && alarmView(a);
  }

  acknowledge(id: number, by: string): AlarmView {
    const acknowledged = this.opts.alarms.acknowledge(id, by, this.now());
    if (!acknowledged) {
      const existing = this.opts.alarms.get(id);
      if (!existing) throw new AlarmError(`no alarm ${id}`, 'not-found');
      throw new AlarmError(`alarm ${id} is ${alarmView(existing).state}: only an active alarm can be acknowledged`, 'conflict');
    }
    this.opts.log.info({ alarm: id, endpoint: acknowledged.endpoint, by }, 'alarm acknowledged');
    return this.publish('alarm.acknowledged', acknowledged);
  }

  /**
   * An operator clears an open alarm (active or acknowledged) by hand. The condition may still
   * hold: its next evaluation (a notification, the offline check) then raises a new alarm.
   */
  clearByOperator(id: number, by: string): AlarmView {
    const existing = this.opts.alarms.get(id);
    if (!existing) throw new AlarmError(`no alarm ${id}`, 'not-found');
    const cleared = existing.clearedAt === null ? this.opts.alarms.clear(id, `cleared by ${by}`, this.now()) : undefined;
    if (!cleared) throw new AlarmError(`alarm ${id} is cleared already`, 'conflict');
    const k = key(existing.ruleId, existing.endpoint);
    if (this.open.get(k) === id) this.open.delete(k);
    this.opts.log.info({ alarm: id, endpoint: cleared.endpoint, by }, 'alarm cleared by an operator');
    return this.publish('alarm.cleared', cleared);
  }

  /**
   * Evaluates the value rules on records of a device: a notification's content, or the current
   * value an Observe returned.
   */
  evaluateValues(endpoint: string, path: string, content: readonly JsonRecord[]): void {
    for (const rule of this.rules) {
      if (rule.kind !== 'value' || !rule.enabled) continue;
      const values = valuesFor(rule.params.path, path, content);
      if (values === undefined) continue;
      const isOpen = this.open.has(key(rule.id, endpoint));
      if (!isOpen && conditionHolds(rule.params, values)) {
        this.raise(rule, endpoint, `${rule.name}: ${rule.params.path} = ${values.join(', ')}`, { path: rule.params.path, values });
      } else if (isOpen && !conditionPersists(rule.params, values)) {
        this.clear(rule.id, endpoint, `${rule.params.path} = ${values.length ? values.join(', ') : 'none'}`);
      }
    }
  }

  /** Deletes cleared alarms older than `before`. */
  pruneHistory(before: number): number {
    return this.opts.alarms.pruneHistory(before);
  }

  close(): void {
    this.unsubscribe();
    this.watch.close();
  }

  /** Offline devices being watched (for tests and health). */
  get watchedOffline(): number {
    return this.watch.size;
  }

  private handle(event: GatewayEvent): void {
    try {
      switch (event.type) {
        case 'device.notification':
          return this.evaluateValues(event.endpoint, event.path, event.content);
        case 'device.status':
          return this.statusChanged(event.endpoint, event.status, event.at);
        case 'rollout.device':
          return this.updateOutcome(event.endpoint, event.state, event.updateResult, event.reason, event.rolloutId);
        default:
          return;
      }
    } catch (err) {
      // A store failure must not take the event bus (and every other subscriber) down with it.
      this.opts.log.error({ err, event: event.type }, 'alarm evaluation failed');
    }
  }

  private statusChanged(endpoint: string, status: string, at: number): void {
    if (status === 'offline') {
      this.watch.wentOffline(endpoint, at);
      return;
    }
    this.watch.cameBack(endpoint);
    if (status === 'decommissioned') {
      for (const rule of this.rules) this.clear(rule.id, endpoint, 'device decommissioned');
      return;
    }
    // Online, sleeping (a queue-mode device asleep is reachable on its schedule) or bootstrapping.
    for (const rule of this.rules) if (rule.kind === 'offline') this.clear(rule.id, endpoint, `device ${status}`);
  }

  private checkOffline(endpoint: string, since: number, notBefore: number): void {
    const now = this.now();
    for (const rule of this.rules) {
      if (rule.kind !== 'offline' || !rule.enabled || this.open.has(key(rule.id, endpoint))) continue;
      if (now < notBefore || now - since < rule.params.afterSeconds * 1000) continue;
      const minutes = Math.round((now - since) / 60_000);
      this.raise(rule, endpoint, `${rule.name}: offline since ${new Date(since).toISOString()} (${minutes} min)`, { offlineSince: new Date(since).toISOString() });
    }
  }

  private updateOutcome(endpoint: string, state: string, updateResult: number | null, reason: string | null, rolloutId: string): void {
    for (const rule of this.rules) {
      if (rule.kind !== 'update-failed') continue;
      if (FAILED_UPDATE_STATES.has(state) && rule.enabled) {
        if (this.open.has(key(rule.id, endpoint))) continue;
        const detail = [reason, updateResult !== null ? `Update Result ${updateResult}` : null].filter(Boolean).join(', ');
        this.raise(rule, endpoint, `${rule.name} in rollout ${rolloutId}: ${state}${detail ? ` (${detail})` : ''}`, { rolloutId, state, updateResult });
      } else if (state === 'succeeded') {
        this.clear(rule.id, endpoint, `firmware update succeeded in rollout ${rolloutId}`);
      }
    }
  }

  private raise(rule: AlarmRule, endpoint: string, message: string, value: unknown): void {
    const alarm = this.opts.alarms.raise({ ruleId: rule.id, ruleName: rule.name, endpoint, severity: rule.severity, message, value, at: this.now() });
    this.open.set(key(rule.id, endpoint), alarm.id);
    this.opts.log.info({ alarm: alarm.id, rule: rule.id, endpoint, severity: rule.severity }, 'alarm raised');
    this.publish('alarm.raised', alarm);
  }

  private clear(ruleId: string, endpoint: string, reason: string): void {
    const k = key(ruleId, endpoint);
    const id = this.open.get(k);
    if (id === undefined) return;
    this.open.delete(k);
    const cleared = this.opts.alarms.clear(id, reason, this.now());
    if (!cleared) return;
    this.opts.log.info({ alarm: id, rule: ruleId, endpoint, reason }, 'alarm cleared');
    this.publish('alarm.cleared', cleared);
  }

  private clearRule(ruleId: string, reason: string): void {
    for (const k of [...this.open.keys()]) {
      const [rule, endpoint] = k.split('\u0000') as [string, string];
      if (rule === ruleId) this.clear(rule, endpoint, reason);
    }
  }

  private publish(type: 'alarm.raised' | 'alarm.cleared' | 'alarm.acknowledged', alarm: Alarm): AlarmView {
    const view = alarmView(alarm);
    this.opts.events.publish({ type, alarm: view, at: this.now() });
    return view;
  }

  private reloadRules(): void {
    this.rules = this.opts.rules.list();
  }
}

function key(ruleId: string, endpoint: string): string {
  return `${ruleId}\u0000${endpoint}`;
}

export { AlarmRuleError };
