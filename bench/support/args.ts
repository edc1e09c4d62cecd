/** A benchmark script's command line: `--name value` pairs and bare `--switch`es. */
export interface BenchArgs {
  /** The value after `--name`, or undefined when the flag is absent. */
  flag(name: string): string | undefined;
  /** Whether the bare switch `--name` was given. */
  has(name: string): boolean;
  /**
   * A numeric flag, or `fallback` when absent. A value that is not a number (or breaks the
   * constraint) stops the bench at once with a message naming the flag, rather than running with NaN.
   */
  num(name: string, fallback: number, constraint?: 'integer' | 'positive' | 'positive-integer'): number;
}

export function benchArgs(argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    flag,
    has: (name) => argv.includes(`--${name}`),
    num(name, fallback, constraint) {
      const text = flag(name);
      if (text === undefined) return fallback;
      const n = Number(text);
      const integer = constraint === 'integer' || constraint === 'positive-integer';
      const positive = constraint === 'positive' || constraint === 'positive-integer';
      if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || (positive ? n <= 0 : n < 0)) {
        throw new Error(`--${name} takes a ${positive ? 'positive ' : 'non-negative '}${integer ? 'integer' : 'number'}, got "${text}"`);
      }
      return n;
    },
  };
}
