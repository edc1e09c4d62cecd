import { randomBytes } from 'node:crypto';
import type { Database } from '../store/database.js';
import { hashSecret } from '../security/secrets.js';
import { DEFAULT_PASSWORD_COST, generatePassword, hashPassword, passwordProblem, verifyPassword } from './password.js';
import { isRole, type Role } from './roles.js';
import { OperatorStore, type OperatorRow, type TokenKind, type TokenRow } from './operator-store.js';

export class OperatorError extends Error {
  constructor(
    readonly kind: 'invalid' | 'conflict' | 'not-found',
    message: string,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

export interface Operator {
  username: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

export interface TokenInfo {
  id: string;
  username: string;
  name: string;
  kind: TokenKind;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** Who made a request, as resolved from its token. */
export interface Principal {
  username: string;
  role: Role;
  tokenId: string;
  tokenKind: TokenKind;
}

export interface OperatorOptions {
  /** log2 of scrypt's N for new password hashes. */
  passwordCost?: number;
  sessionTtlMs?: number;
}

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const TOKEN_PREFIX = 'edgedm_';
// last_used_at is written at most this often per token: a busy script must not turn reads into writes.
const TOUCH_INTERVAL_MS = 60_000;

/** The first admin, as created on a gateway's first start: shown to the person starting it once. */
export interface InitialAdmin {
  username: string;
  password: string;
  /** false when the password came from the configuration: whoever set it knows it, and it is not printed. */
  generated: boolean;
}

/**
 * Operator accounts (Y.4702 8.4 access control for the northbound side): passwords hashed with
 * scrypt, API and session tokens as random 256-bit bearer secrets stored as SHA-256 (like device
 * secrets: nothing to brute-force, and checked on every API request).
 */
export class OperatorService {
  private readonly store: OperatorStore;
  private readonly passwordCost: number;
  private readonly sessionTtlMs: number;
  private readonly touched = new Map<string, number>();

  constructor(db: Database, options: OperatorOptions = {}) {
    this.store = new OperatorStore(db);
    this.passwordCost = options.passwordCost ?? DEFAULT_PASSWORD_COST;
    this.sessionTtlMs = options.sessionTtlMs ?? 12 * 3600_000;
  }

  /** Creates `admin` when there is no operator at all; returns its credential that one time. */
  async ensureInitialAdmin(password?: string): Promise<InitialAdmin | undefined> {
    if (this.store.count() > 0) return undefined;
    const initial = { username: 'admin', password: password ?? generatePassword(), generated: password === undefined };
    await this.create(initial.username, initial.password, 'admin');
    return initial;
  }

  async create(username: string, password: string, role: Role): Promise<Operator> {
    const name = checkUsername(username);
    if (!isRole(role)) throw new OperatorError('invalid', `unknown role ${String(role)}`);
    const problem = passwordProblem(password);
    if (problem) throw new OperatorError('invalid', problem);
    const passwordHash = await hashPassword(password, this.passwordCost);
    if (this.store.get(name)) throw new OperatorError('conflict', `operator ${name} exists`);
    const now = Date.now();
    this.store.insert({ username: name, role, password_hash: passwordHash, created_at: now, updated_at: now });
    return toOperator(this.store.get(name)!);
  }

  get(username: string): Operator {
    const row = this.store.get(username.toLowerCase());
    if (!row) throw new OperatorError('not-found', `no operator ${username}`);
    return toOperator(row);
  }

  list(offset: number, limit: number): { items: Operator[]; total: number } {
    return { items: this.store.list(offset, limit).map(toOperator), total: this.store.count() };
  }

  /**
   * Changes a role or password; a changed password ends the operator's login sessions, but the
   * one `keepSession` names (an operator changing its own password stays logged in there).
   */
  async update(username: string, changes: { role?: Role; password?: string }, keepSession?: string): Promise<Operator> {
    const current = this.get(username);
    if (changes.role !== undefined && !isRole(changes.role)) throw new OperatorError('invalid', `unknown role ${String(changes.role)}`);
    if (changes.role && changes.role !== 'admin' && current.role === 'admin' && this.store.countByRole('admin') === 1) {
      throw new OperatorError('conflict', `${current.username} is the last admin`);
    }
    let passwordHash: string | undefined;
    if (changes.password !== undefined) {
      const problem = passwordProblem(changes.password);
      if (problem) throw new OperatorError('invalid', problem);
      passwordHash = await hashPassword(changes.password, this.passwordCost);
    }
    this.store.update(current.username, { ...(changes.role ? { role: changes.role } : {}), ...(passwordHash ? { passwordHash } : {}) }, Date.now());
    if (passwordHash) this.store.deleteSessions(current.username, keepSession ?? null);
    return this.get(current.username);
  }

  delete(username: string): void {
    const current = this.get(username);
    if (current.role === 'admin' && this.store.countByRole('admin') === 1) throw new OperatorError('conflict', `${current.username} is the last admin`);
    this.store.delete(current.username); // its tokens go with it (ON DELETE CASCADE)
  }

  /** The operator if the password is right; undefined otherwise (unknown user or wrong password alike). */
  async authenticate(username: string, password: string): Promise<Operator | undefined> {
    const row = this.store.get(username.toLowerCase());
    // An unknown user costs the same scrypt as a known one, so timing does not tell which names exist.
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH.get(this.passwordCost));
    return row && ok ? toOperator(row) : undefined;
  }

  /** Issues a bearer token; the secret is returned here once and never stored. */
  issueToken(username: string, name: string, kind: TokenKind, ttlMs?: number | null): { token: string; info: TokenInfo } {
    const operator = this.get(username);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = Date.now();
    const ttl = ttlMs === undefined ? (kind === 'session' ? this.sessionTtlMs : null) : ttlMs;
    const row: TokenRow = {
      id: `tok_${randomBytes(9).toString('base64url')}`,
      username: operator.username,
      name: name.slice(0, 100),
      kind,
      token_hash: hashSecret(token),
      created_at: now,
      expires_at: ttl === null ? null : now + ttl,
      last_used_at: null,
    };
    this.store.insertToken(row);
    return { token, info: toTokenInfo(row) };
  }

  /** Who holds this bearer token, or undefined if it is unknown or expired. */
  resolve(token: string, now = Date.now()): Principal | undefined {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 128) return undefined;
    const row = this.store.tokenByHash(hashSecret(token));
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= now) {
      this.store.deleteToken(row.id);
      this.touched.delete(row.id);
      return undefined;
    }
    if (now - (this.touched.get(row.id) ?? row.last_used_at ?? 0) >= TOUCH_INTERVAL_MS) {
      this.touched.set(row.id, now);
      this.store.touchToken(row.id, now);
    }
    return { username: row.username, role: row.role, tokenId: row.id, tokenKind: row.kind };
  }

  /** Whether a token still works (not revoked, not expired, its operator not deleted): long-lived streams check it. */
  stillValid(tokenId: string, now = Date.now()): boolean {
    return this.store.tokenExists(tokenId, now);
  }

  tokens(username?: string, kind?: TokenKind): TokenInfo[] {
    this.store.deleteExpired(Date.now());
    return this.store.tokens(username, kind).map(toTokenInfo);
  }

  token(id: string): TokenInfo {
    const row = this.store.token(id);
    if (!row) throw new OperatorError('not-found', `no token ${id}`);
    return toTokenInfo(row);
  }

  revokeToken(id: string): void {
    if (!this.store.deleteToken(id)) throw new OperatorError('not-found', `no token ${id}`);
    this.touched.delete(id);
  }

  /** Replaces an operator's tokens of this name (the demo's CLI login, made again at every start). */
  revokeTokensNamed(username: string, name: string): number {
    return this.store.deleteTokensNamed(username, name);
  }
}

function checkUsername(username: string): string {
  const name = String(username ?? '').toLowerCase();
  if (!USERNAME.test(name)) throw new OperatorError('invalid', 'a username is 1–64 characters: letters, digits and . _ @ - (starting with a letter or digit)');
  return name;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function toOperator(row: OperatorRow): Operator {
  return { username: row.username, role: row.role, createdAt: iso(row.created_at)!, updatedAt: iso(row.updated_at)! };
}

function toTokenInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    username: row.username,
    name: row.name,
    kind: row.kind,
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
  };
}

/** A hash of nothing anyone knows, per cost, for comparing against when the username is unknown. */
const DUMMY_HASH = {
  cache: new Map<number, string>(),
  get(cost: number): string {
    let hash = this.cache.get(cost);
    if (!hash) {
      const N = 2 ** cost;
      hash = `scrypt$${N}$8$1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`;
      this.cache.set(cost, hash);
    }
    return hash;
  },
};
