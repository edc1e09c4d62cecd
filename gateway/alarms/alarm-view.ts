import type { AlarmSeverity } from './alarm-rules.js';

/**
 * An alarm's state: `active` (raised, nobody has acknowledged it), `acknowledged` (an operator
 * took it on; the condition still holds), `cleared` (the condition is gone; history).
 */
export const ALARM_STATES = ['active', 'acknowledged', 'cleared'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export interface Alarm {
  id: number;
  ruleId: string;
  ruleName: string;
  endpoint: string;
  severity: AlarmSeverity;
  message: string;
  /** What was observed when the alarm was raised (the values, the Update Result, the last-seen time). */
  value: unknown;
  raisedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  clearedAt: number | null;
  clearReason: string | null;
}

/** The API's and the event stream's view of an alarm: times as ISO strings, the state spelled out. */
export interface AlarmView {
  id: number;
  ruleId: string;
  ruleName: string;
  endpoint: string;
  severity: AlarmSeverity;
  state: AlarmState;
  message: string;
  value: unknown;
  raisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  clearedAt: string | null;
  clearReason: string | null;
}

export function alarmState(a: Alarm): AlarmState {
  if (a.clearedAt !== null) return 'cleared';
  return a.acknowledgedAt !== null ? 'acknowledged' : 'active';
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function alarmView(a: Alarm): AlarmView {
  return {
    id: a.id,
    ruleId: a.ruleId,
    ruleName: a.ruleName,
    endpoint: a.endpoint,
    severity: a.severity,
    state: alarmState(a),
    message: a.message,
    value: a.value,
    raisedAt: new Date(a.raisedAt).toISOString(),
    acknowledgedAt: iso(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy,
    clearedAt: iso(a.clearedAt),
    clearReason: a.clearReason,
  };
}
