import type { TargetExpression, TargetTerm } from './expression.js';

/**
 * The canonical text of a target: terms separated by one space, values by commas, and
 * quotes only where a value needs them. `parseTarget(formatTarget(e))` equals `e`.
 */
export function formatTarget(expr: TargetExpression): string {
  return expr.terms.map(formatTerm).join(' ');
}

function formatTerm(term: TargetTerm): string {
  if (term.key === 'all') return 'all';
  return `${term.negated ? '!' : ''}${term.key}:${term.values.map(formatValue).join(',')}`;
}

/** Quotes values with whitespace, commas or quotes; escapes `"` and `\` inside the quotes. */
function formatValue(value: string): string {
  if (!/[\s,"]/.test(value)) return value;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
