/**
 * Orders firmware versions for anti-rollback: dot-separated numeric parts compare as numbers
 * ("1.10.0" > "1.9.2"), a pre-release suffix sorts before its release ("1.2.0-rc1" < "1.2.0"),
 * other text compares as text.
 */
export function compareVersions(a: string, b: string): number {
  const [coreA, preA] = splitPre(a);
  const [coreB, preB] = splitPre(b);
  const pa = coreA.split('.');
  const pb = coreB.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const c = comparePart(pa[i] ?? '0', pb[i] ?? '0');
    if (c !== 0) return c;
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return comparePart(preA, preB);
}

function splitPre(v: string): [string, string | undefined] {
  const trimmed = v.trim().replace(/^v/i, '');
  const dash = trimmed.indexOf('-');
  return dash < 0 ? [trimmed, undefined] : [trimmed.slice(0, dash), trimmed.slice(dash + 1)];
}

function comparePart(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : NaN;
  const nb = /^\d+$/.test(b) ? Number(b) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return Math.sign(na - nb);
  return a < b ? -1 : a > b ? 1 : 0;
}
