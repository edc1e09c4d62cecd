import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * Layered configuration shared by the gateway and the agent: defaults, then a file (YAML or
 * JSON), then environment variables, then command-line flags. Every layer is checked against
 * the defaults' shape, so a misspelt key or a port given as text fails at start-up with the
 * key's name, instead of being silently ignored.
 */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object | null ? DeepPartial<NonNullable<T[K]>> | (null extends T[K] ? null : never) : T[K] };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type EnvParser = 'string' | 'integer' | 'boolean';

export interface ConfigSpec<T> {
  /** What the messages call it, e.g. "gateway". */
  name: string;
  defaults: T;
  /** Keys whose default is null but which take a string when set. */
  nullableStrings?: readonly string[];
  /** Environment variable → dotted key. */
  env: Readonly<Record<string, { key: string; type: EnvParser }>>;
  /** Cross-field and range checks on the merged result; throw ConfigError. */
  validate(config: T): void;
}

export interface ConfigSources<T> {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: DeepPartial<T>;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function loadLayeredConfig<T extends object>(spec: ConfigSpec<T>, sources: ConfigSources<T> = {}): T {
  let config = structuredClone(spec.defaults) as Record<string, unknown>;
  if (sources.file) config = merge(config, readConfigFile(sources.file), spec, `${sources.file}: `);
  if (sources.env) config = merge(config, fromEnv(spec, sources.env), spec, 'environment: ');
  if (sources.overrides) config = merge(config, sources.overrides, spec, '');
  spec.validate(config as T);
  return config as T;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the configuration file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    // YAML is a superset of JSON, so one parser reads both.
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

function fromEnv<T>(spec: ConfigSpec<T>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, { key, type }] of Object.entries(spec.env)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'integer') {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
      value = Number(raw);
    } else if (type === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(raw.trim())) throw new ConfigError(`${name} must be true or false, got "${raw}"`);
      value = /^(true|1)$/i.test(raw.trim());
    }
    setPath(out, key.split('.'), value);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const k of path.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
}

/** Merges `layer` into `base`, checking each key and type against the defaults. */
function merge<T>(base: Record<string, unknown>, layer: unknown, spec: ConfigSpec<T>, where: string, prefix = ''): Record<string, unknown> {
  if (layer === null || typeof layer !== 'object' || Array.isArray(layer)) {
    throw new ConfigError(`${where}${prefix ? `"${prefix}"` : 'the configuration'} must be a mapping of settings`);
  }
  const defaults = lookup(spec.defaults, prefix);
  const out = { ...base };
  for (const [key, value] of Object.entries(layer as Record<string, unknown>)) {
    if (value === undefined) continue;
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (!Object.prototype.hasOwnProperty.call(defaults, key)) {
      throw new ConfigError(`${where}unknown setting "${dotted}"; known: ${Object.keys(defaults as object).map((k) => (prefix ? `${prefix}.${k}` : k)).join(', ')}`);
    }
    const expected = (defaults as Record<string, unknown>)[key];
    if (expected !== null && typeof expected === 'object') {
      out[key] = merge(out[key] as Record<string, unknown>, value, spec, where, dotted);
      continue;
    }
    const nullable = spec.nullableStrings?.includes(dotted) ?? false;
    const expectedType = nullable ? 'string' : typeof expected;
    if (nullable && value === null) {
      out[key] = null;
    } else if (typeof value !== expectedType) {
      throw new ConfigError(`${where}"${dotted}" must be a ${expectedType === 'number' ? 'number' : expectedType}, got ${JSON.stringify(value)}`);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function lookup(obj: unknown, dotted: string): unknown {
  return dotted === '' ? obj : dotted.split('.').reduce((node, k) => (node as Record<string, unknown>)[k], obj);
}

/** Checks shared by both configurations. */
export function requirePort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`"${name}" must be a port number 0-65535 (0 picks a free one), got ${port}`);
}

export function requirePositiveInteger(name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`"${name}" must be a whole number of at least ${min}, got ${value}`);
}

export function requireLogLevel(level: string): void {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`"logLevel" must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
}
