import { InvalidArgumentError } from 'commander';
import { CliError } from './api-client.js';

/** Option parsers: commander names the option in its error, so the message says only what is wrong. */
export function integer(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
  return n;
}

export function decimal(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number.`);
  return n;
}

/** A whole number (0 or more) for `--name`; the message names the flag, as the run commands always did. */
export function wholeNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CliError(`--${name} takes a whole number, got "${value}"`);
    return n;
  };
}
