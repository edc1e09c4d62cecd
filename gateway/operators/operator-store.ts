import type { Statement } from 'better-sqlite3';
import type { Database } from '../store/database.js';
import { statementCache } from '../store/statement-cache.js';
import type { Role } from './roles.js';

export interface OperatorRow {
  username: string;
  role: Role;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

export type TokenKind = 'session' | 'api';

export interface TokenRow {
  id: string;
  username: string;
  name: string;
  kind: TokenKind;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

/** Operators and their tokens in SQL (migration 8). Tokens are stored as SHA-256 of the secret only. */
export class OperatorStore {
  private readonly sql: (sql: string) => Statement;

  constructor(private readonly db: Database) {
    this.sql = statementCache(db);
  }

  count(): number {
    return (this.sql('SELECT COUNT(*) AS n FROM operators').get() as { n: number }).n;
  }

  countByRole(role: Role): number {
    return (this.sql('SELECT COUNT(*) AS n FROM operators WHERE role = ?').get(role) as { n: number }).n;
  }

  get(username: string): OperatorRow | undefined {
    return this.sql('SELECT * FROM operators WHERE username = ?').get(username) as OperatorRow | undefined;
  }

  list(offset: number, limit: number): OperatorRow[] {
    return this.sql('SELECT * FROM operators ORDER BY username LIMIT ? OFFSET ?').all(limit, offset) as OperatorRow[];
  }

  insert(row: OperatorRow): void {
    this.sql('INSERT INTO operators (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
      row.username,
      row.role,
      row.password_hash,
      row.created_at,
      row.updated_at,
    );
  }

  update(username: string, changes: { role?: Role; passwordHash?: string }, at: number): void {
    this.db.transaction(() => {
      if (changes.role) this.sql('UPDATE operators SET role = ?, updated_at = ? WHERE username = ?').run(changes.role, at, username);
      if (changes.passwordHash) {
        this.sql('UPDATE operators SET password_hash = ?, updated_at = ? WHERE username = ?').run(changes.passwordHash, at, username);
      }
    })();
  }

  delete(username: string): boolean {
    return this.sql('DELETE FROM operators WHERE username = ?').run(username).changes > 0;
  }

  insertToken(row: TokenRow): void {
    this.sql(
      'INSERT INTO api_tokens (id, username, name, kind, token_hash, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(row.id, row.username, row.name, row.kind, row.token_hash, row.created_at, row.expires_at, row.last_used_at);
  }

  tokenByHash(hash: string): (TokenRow & { role: Role }) | undefined {
    return this.sql('SELECT t.*, o.role FROM api_tokens t JOIN operators o ON o.username = t.username WHERE t.token_hash = ?').get(hash) as
      | (TokenRow & { role: Role })
      | undefined;
  }

  token(id: string): TokenRow | undefined {
    return this.sql('SELECT * FROM api_tokens WHERE id = ?').get(id) as TokenRow | undefined;
  }

  tokens(username: string | undefined, kind: TokenKind | undefined): TokenRow[] {
    return this.sql(
      `SELECT * FROM api_tokens WHERE (@username IS NULL OR username = @username) AND (@kind IS NULL OR kind = @kind) ORDER BY created_at DESC`,
    ).all({ username: username ?? null, kind: kind ?? null }) as TokenRow[];
  }

  touchToken(id: string, at: number): void {
    this.sql('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  deleteToken(id: string): boolean {
    return this.sql('DELETE FROM api_tokens WHERE id = ?').run(id).changes > 0;
  }

  deleteTokensNamed(username: string, name: string): number {
    return this.sql('DELETE FROM api_tokens WHERE username = ? AND name = ?').run(username, name).changes;
  }

  /** Ends an operator's login sessions, but `except` (the one asking, when it changes its own password). */
  deleteSessions(username: string, except: string | null = null): number {
    return this.sql(`DELETE FROM api_tokens WHERE username = ? AND kind = 'session' AND id IS NOT ?`).run(username, except).changes;
  }

  tokenExists(id: string, now: number): boolean {
    return this.sql('SELECT 1 FROM api_tokens WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)').get(id, now) !== undefined;
  }

  deleteExpired(now: number): number {
    return this.sql('DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }
}
