import type { JsonRecord } from '../../protocol/model/index.js';
import type { ValueRuleParams } from './alarm-rules.js';

/**
 * The numeric values a notification carries for a rule's resource, or undefined when the
 * notification says nothing about it (another resource). A notification of the resource itself
 * with no records (a multiple resource that emptied) gives [].
 */
export function valuesFor(rulePath: string, notificationPath: string, content: readonly JsonRecord[]): number[] | undefined {
  const values: number[] = [];
  let mentioned = isAtOrUnder(rulePath, notificationPath);
  for (const record of content) {
    if (!isAtOrUnder(record.path, rulePath)) continue;
    mentioned = true;
    if (typeof record.value === 'number') values.push(record.value);
  }
  return mentioned ? values : undefined;
}

/** Whether the condition holds for any of the values: the alarm should be raised. */
export function conditionHolds(p: ValueRuleParams, values: readonly number[]): boolean {
  return values.some((v) => compare(p.op, v, p.threshold));
}

/**
 * Whether an alarm already raised should stay: for ordering operators the value must move past
 * the threshold by the hysteresis before it clears, so a value wobbling on the threshold does
 * not raise and clear over and over.
 */
export function conditionPersists(p: ValueRuleParams, values: readonly number[]): boolean {
  const h = p.hysteresis;
  return values.some((v) => {
    switch (p.op) {
      case '<':
        return v < p.threshold + h;
      case '<=':
        return v <= p.threshold + h;
      case '>':
        return v > p.threshold - h;
      case '>=':
        return v >= p.threshold - h;
      default:
        return compare(p.op, v, p.threshold);
    }
  });
}

function compare(op: ValueRuleParams['op'], v: number, t: number): boolean {
  switch (op) {
    case '<':
      return v < t;
    case '<=':
      return v <= t;
    case '>':
      return v > t;
    case '>=':
      return v >= t;
    case '==':
      return v === t;
    case '!=':
      return v !== t;
  }
}

/** `/3/0/11/2` is under `/3/0/11`; `/3/0/1` is not under `/3/0/11`. */
function isAtOrUnder(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}
