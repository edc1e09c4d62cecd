import type { TargetableDevice, TargetExpression, TargetFilterTerm, TargetKey, TargetTerm } from './expression.js';
import { parseTarget } from './parse-target.js';

export type TargetPredicate = (device: TargetableDevice) => boolean;

/** The device fields a key looks at; a missing (null) field matches no value. */
const FIELDS: Readonly<Record<TargetKey, (d: TargetableDevice) => readonly string[]>> = {
  id: (d) => [d.endpoint],
  tag: (d) => d.tags,
  group: (d) => d.groups,
  transport: (d) => (d.transport === null ? [] : [d.transport]),
  status: (d) => [d.status],
  fw: (d) => (d.firmwareVersion === null ? [] : [d.firmwareVersion]),
  model: (d) => (d.model === null ? [] : [d.model]),
  serial: (d) => (d.serialNumber === null ? [] : [d.serialNumber]),
};

/**
 * Compiles a target into a predicate, with its globs turned into regular expressions once,
 * so filtering a large fleet costs one call per device. A string is parsed first
 * (and may throw TargetSyntaxError).
 */
export function compileTarget(expr: TargetExpression | string): TargetPredicate {
  const parsed = typeof expr === 'string' ? parseTarget(expr) : expr;
  const predicates = parsed.terms.filter(isFilterTerm).map(compileTerm);
  return (device) => predicates.every((p) => p(device));
}

export function matchesTarget(expr: TargetExpression | string, device: TargetableDevice): boolean {
  return compileTarget(expr)(device);
}

function isFilterTerm(term: TargetTerm): term is TargetFilterTerm {
  return term.key !== 'all';
}

function compileTerm(term: TargetFilterTerm): TargetPredicate {
  const field = FIELDS[term.key];
  const matchers = term.values.map(compileValue);
  const anyMatch = (d: TargetableDevice) => field(d).some((v) => matchers.some((m) => m(v)));
  return term.negated ? (d) => !anyMatch(d) : anyMatch;
}

/** `*` matches any run of characters, including none; everything else is literal. */
function compileValue(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (value) => value === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (value) => regex.test(value);
}
