import { InvalidPathError, LwM2mPath } from '../../protocol/model/index.js';

/** ITU-T X.733 perceived severities an alarm can carry (`cleared` is a state here, not a severity). */
export const ALARM_SEVERITIES = ['critical', 'major', 'minor', 'warning'] as const;
export type AlarmSeverity = (typeof ALARM_SEVERITIES)[number];

/**
 * What a rule watches: `value` an observed resource (battery, memory, signal, error codes, …),
 * `offline` a device away longer than a time, `update-failed` a firmware update that failed.
 */
export const ALARM_RULE_KINDS = ['value', 'offline', 'update-failed'] as const;
export type AlarmRuleKind = (typeof ALARM_RULE_KINDS)[number];

export const VALUE_OPERATORS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type ValueOperator = (typeof VALUE_OPERATORS)[number];

export interface ValueRuleParams {
  /** A resource (`/3/0/9`) or resource instance; a multiple resource matches on any instance. */
  path: string;
  op: ValueOperator;
  threshold: number;
  /** How far back past the threshold a value must go before the alarm clears (ordering operators only). */
  hysteresis: number;
}

export interface OfflineRuleParams {
  afterSeconds: number;
}

interface RuleBase {
  id: string;
  name: string;
  severity: AlarmSeverity;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export type AlarmRule =
  | (RuleBase & { kind: 'value'; params: ValueRuleParams })
  | (RuleBase & { kind: 'offline'; params: OfflineRuleParams })
  | (RuleBase & { kind: 'update-failed'; params: Record<string, never> });

/** A rule as the API takes it: flat, the kind's parameters beside the common fields. */
export interface AlarmRuleInput {
  name: string;
  kind: AlarmRuleKind;
  severity: AlarmSeverity;
  enabled?: boolean;
  path?: string;
  op?: ValueOperator;
  threshold?: number;
  hysteresis?: number;
  afterSeconds?: number;
}

export class AlarmRuleError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'not-found',
  ) {
    super(message);
    this.name = 'AlarmRuleError';
  }
}

/** The kind's parameters from a flat input; throws AlarmRuleError naming what is missing or wrong. */
export function ruleParams(input: AlarmRuleInput): AlarmRule['params'] {
  switch (input.kind) {
    case 'value': {
      if (input.path === undefined || input.op === undefined || input.threshold === undefined) {
        throw new AlarmRuleError('a value rule needs path, op and threshold', 'invalid');
      }
      let path: LwM2mPath;
      try {
        path = LwM2mPath.parse(input.path);
      } catch (err) {
        throw new AlarmRuleError(err instanceof InvalidPathError ? err.message : `invalid path "${input.path}"`, 'invalid');
      }
      if (path.segments().length < 3) throw new AlarmRuleError(`a value rule watches a resource, e.g. /3/0/9; "${input.path}" is not one`, 'invalid');
      const hysteresis = input.hysteresis ?? 0;
      if (!(hysteresis >= 0)) throw new AlarmRuleError('hysteresis must not be negative', 'invalid');
      return { path: path.toString(), op: input.op, threshold: input.threshold, hysteresis };
    }
    case 'offline':
      if (input.afterSeconds === undefined || !(input.afterSeconds >= 1)) throw new AlarmRuleError('an offline rule needs afterSeconds ≥ 1', 'invalid');
      return { afterSeconds: input.afterSeconds };
    case 'update-failed':
      return {};
  }
}
