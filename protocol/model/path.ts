/**
 * An LwM2M path: `/`, `/object`, `/object/instance`, `/object/instance/resource`
 * or `/object/instance/resource/resource-instance`.
 *
 * Every transport addresses the model with these paths, so parsing lives here once.
 */
export class InvalidPathError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid LwM2M path "${input}": ${reason}`);
    this.name = 'InvalidPathError';
  }
}

/** Object, instance and resource ids are 16-bit; 65535 is reserved (LwM2M 1.1 §7.1). */
export const MAX_ID = 65534;

export class LwM2mPath {
  private constructor(private readonly ids: readonly number[]) {}

  static readonly ROOT = new LwM2mPath([]);

  static of(...ids: number[]): LwM2mPath {
    if (ids.length > 4) throw new InvalidPathError(`/${ids.join('/')}`, 'more than four segments');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
        throw new InvalidPathError(`/${ids.join('/')}`, `id ${id} is not an integer in 0..${MAX_ID}`);
      }
    }
    return new LwM2mPath(ids);
  }

  /** Parses `/3/0/0`; a missing leading slash is tolerated, a trailing one too. */
  static parse(input: string): LwM2mPath {
    if (typeof input !== 'string') throw new InvalidPathError(String(input), 'not a string');
    let s = input.trim();
    if (s === '' || s === '/') return LwM2mPath.ROOT;
    if (s.startsWith('/')) s = s.slice(1);
    if (s.endsWith('/')) s = s.slice(0, -1);
    const parts = s.split('/');
    if (parts.length > 4) throw new InvalidPathError(input, 'more than four segments');
    const ids = parts.map((part) => {
      if (!/^(0|[1-9][0-9]{0,4})$/.test(part)) throw new InvalidPathError(input, `segment "${part}" is not a decimal id`);
      const id = Number(part);
      if (id > MAX_ID) throw new InvalidPathError(input, `id ${id} exceeds ${MAX_ID}`);
      return id;
    });
    return new LwM2mPath(ids);
  }

  get length(): number {
    return this.ids.length;
  }
  get objectId(): number | undefined {
    return this.ids[0];
  }
  get instanceId(): number | undefined {
    return this.ids[1];
  }
  get resourceId(): number | undefined {
    return this.ids[2];
  }
  get resourceInstanceId(): number | undefined {
    return this.ids[3];
  }

  isRoot(): boolean {
    return this.ids.length === 0;
  }
  isObject(): boolean {
    return this.ids.length === 1;
  }
  isObjectInstance(): boolean {
    return this.ids.length === 2;
  }
  isResource(): boolean {
    return this.ids.length === 3;
  }
  isResourceInstance(): boolean {
    return this.ids.length === 4;
  }

  segments(): readonly number[] {
    return this.ids;
  }

  /** True when `this` equals `prefix` or lies below it. */
  startsWith(prefix: LwM2mPath): boolean {
    if (prefix.ids.length > this.ids.length) return false;
    return prefix.ids.every((id, i) => this.ids[i] === id);
  }

  equals(other: LwM2mPath): boolean {
    return this.ids.length === other.ids.length && this.startsWith(other);
  }

  child(id: number): LwM2mPath {
    return LwM2mPath.of(...this.ids, id);
  }

  parent(): LwM2mPath {
    return new LwM2mPath(this.ids.slice(0, -1));
  }

  toString(): string {
    return '/' + this.ids.join('/');
  }

  toJSON(): string {
    return this.toString();
  }

  /** Orders paths as a depth-first walk of the tree (numeric, not lexical). */
  static compare(a: LwM2mPath, b: LwM2mPath): number {
    const n = Math.min(a.ids.length, b.ids.length);
    for (let i = 0; i < n; i++) {
      const d = a.ids[i]! - b.ids[i]!;
      if (d !== 0) return d;
    }
    return a.ids.length - b.ids.length;
  }
}
