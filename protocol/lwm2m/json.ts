/**
 * A strict RFC 8259 JSON reader for the LwM2M JSON and SenML JSON decoders. JSON.parse would
 * do, but it rounds integers beyond 2^53 (an unsigned 64-bit resource, a 64-bit counter) and
 * silently keeps the last of duplicate keys; this reader keeps every number's text, refuses
 * duplicate keys, lone surrogates and nesting deeper than the formats use.
 */

/** A JSON number, kept as its text until the resource type says how to read it. */
export class JsonNumber {
  constructor(readonly text: string) {}

  /** An integer literal as number (safe range) or bigint; any other literal as number. */
  value(): number | bigint {
    if (/^-?(0|[1-9][0-9]*)$/.test(this.text)) {
      const n = Number(this.text);
      return Number.isSafeInteger(n) ? n : BigInt(this.text);
    }
    return Number(this.text);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** Objects keep key order and cannot be confused by `__proto__` keys. */
export type JsonObject = Map<string, JsonValue>;

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at character ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

export function parseJson(text: string, maxDepth = 8): JsonValue {
  const reader = new Reader(text, maxDepth);
  reader.skipWhitespace();
  const value = reader.value(0);
  reader.skipWhitespace();
  if (reader.pos !== text.length) reader.fail('unexpected content after the JSON value');
  return value;
}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Reader {
  pos = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  fail(message: string): never {
    throw new JsonSyntaxError(message, this.pos);
  }

  skipWhitespace(): void {
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') return this.string();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    return this.fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  }

  private literal<T>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return value;
  }

  private number(): JsonNumber {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.s);
    if (!m) return this.fail('invalid number');
    this.pos += m[0].length;
    return new JsonNumber(m[0]);
  }

  private string(): string {
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= this.s.length) this.fail('unterminated string');
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += this.s.slice(start, this.pos);
        this.pos++;
        break;
      }
      if (c < 0x20) this.fail('control character in a string');
      if (c === 0x5c) {
        out += this.s.slice(start, this.pos);
        const e = this.s[this.pos + 1];
        if (e === 'u') {
          const hex = this.s.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 6;
        } else if (e !== undefined && ESCAPES[e] !== undefined) {
          out += ESCAPES[e];
          this.pos += 2;
        } else {
          this.fail('invalid escape');
        }
        start = this.pos;
        continue;
      }
      this.pos++;
    }
    if (/\p{Cs}/u.test(out)) this.fail('lone surrogate in a string');
    return out;
  }

  private array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth}`);
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.value(depth));
      this.skipWhitespace();
      const c = this.s[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected , or ] in an array');
    }
  }

  private object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth}`);
    this.pos++;
    const out: JsonObject = new Map();
    this.skipWhitespace();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.s[this.pos] !== '"') this.fail('expected a key string');
      const keyAt = this.pos;
      const key = this.string();
      if (out.has(key)) {
        this.pos = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      this.skipWhitespace();
      if (this.s[this.pos++] !== ':') this.fail('expected :');
      this.skipWhitespace();
      out.set(key, this.value(depth));
      this.skipWhitespace();
      const c = this.s[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected , or } in an object');
    }
  }
}

export function isJsonObject(v: JsonValue): v is JsonObject {
  return v instanceof Map;
}

/** A JSON string literal (JSON.stringify escapes quotes, backslashes and control characters). */
export function jsonString(s: string): string {
  return JSON.stringify(s);
}
