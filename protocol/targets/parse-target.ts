import {
  ENUMERATED_TARGET_VALUES,
  isTargetKey,
  TARGET_KEYS,
  type TargetExpression,
  type TargetKey,
  type TargetTerm,
} from './expression.js';
import { TargetSyntaxError } from './target-syntax-error.js';

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);

/**
 * Parses a target expression such as `status:online tag:north,south !fw:1.2.*`.
 * Throws TargetSyntaxError, naming the problem and its offset, for anything else.
 */
export function parseTarget(expr: string): TargetExpression {
  if (typeof expr !== 'string') throw new TargetSyntaxError('target expression must be a string', 0, String(expr));
  const parser = new TargetParser(expr);
  return { terms: parser.terms() };
}

class TargetParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  terms(): TargetTerm[] {
    this.skipSpace();
    if (this.pos === this.text.length) this.fail('empty target expression; use `all` for every device', 0);
    const terms: TargetTerm[] = [];
    while (this.pos < this.text.length) {
      terms.push(this.term());
      this.skipSpace();
    }
    return terms;
  }

  private term(): TargetTerm {
    const start = this.pos;
    const negated = this.text[start] === '!';
    const keyStart = negated ? start + 1 : start;
    let keyEnd = keyStart;
    while (keyEnd < this.text.length && this.text[keyEnd] !== ':' && !isSpace(this.text[keyEnd])) keyEnd++;
    const word = this.text.slice(keyStart, keyEnd);
    const hasValues = this.text[keyEnd] === ':';

    if (word === '') this.fail(hasValues ? 'missing key before ":"' : 'expected a term after "!"', keyStart);
    if (word === 'all') {
      if (negated) this.fail('"all" cannot be negated', start);
      if (hasValues) this.fail('"all" takes no values', keyStart);
      this.pos = keyEnd;
      return { key: 'all' };
    }
    if (!isTargetKey(word)) {
      if (!hasValues) this.fail(`expected \`all\` or key:values, got "${word}"`, keyStart);
      this.fail(`unknown key "${word}"`, keyStart, `expected one of ${TARGET_KEYS.join(', ')}`);
    }
    if (!hasValues) this.fail(`missing values after "${word}"; write ${word}:value`, keyEnd);

    this.pos = keyEnd + 1;
    const values = [this.value(word)];
    while (this.text[this.pos] === ',') {
      this.pos++;
      values.push(this.value(word));
    }
    return { key: word, values, negated };
  }

  /** One value of a list: bare (up to whitespace or comma) or double-quoted. */
  private value(key: TargetKey): string {
    const start = this.pos;
    const value = this.text[start] === '"' ? this.quoted() : this.bare();
    if (value === '') this.fail(`empty value for "${key}"`, start);
    const allowed = ENUMERATED_TARGET_VALUES[key];
    if (allowed && !allowed.includes(value)) {
      this.fail(`unknown ${key} "${value}"`, start, `expected one of ${allowed.join(', ')}`);
    }
    return value;
  }

  private bare(): string {
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== ',' && !isSpace(this.text[this.pos])) {
      if (this.text[this.pos] === '"') this.fail('unexpected \'"\' inside a value; quote the whole value, e.g. model:"Pi 4"', this.pos);
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  /** `\"` and `\\` are escapes; any other backslash is kept as it is (`"C:\dir"`). */
  private quoted(): string {
    const open = this.pos;
    let value = '';
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated quoted value', open);
      if (c === '"') break;
      const next = this.text[this.pos + 1];
      if (c === '\\' && (next === '"' || next === '\\')) {
        value += next;
        this.pos += 2;
      } else {
        value += c;
        this.pos++;
      }
    }
    this.pos++;
    const after = this.text[this.pos];
    if (after !== undefined && after !== ',' && !isSpace(after)) {
      this.fail(`unexpected "${after}" after a quoted value; separate terms with a space`, this.pos);
    }
    return value;
  }

  private skipSpace(): void {
    while (isSpace(this.text[this.pos])) this.pos++;
  }

  private fail(problem: string, position: number, hint?: string): never {
    throw new TargetSyntaxError(`${problem} at ${position}${hint ? `; ${hint}` : ''}`, position, this.text);
  }
}
