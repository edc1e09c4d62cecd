import type { Statement } from 'better-sqlite3';
import type { Database } from './database.js';

/**
 * Prepared statements by their SQL text, prepared once. better-sqlite3 compiles a statement on
 * every `prepare()`: in a per-message path (status, last seen, a rollout device's state) that
 * compile was most of the gateway's CPU at 10,000 devices (bench/RESULTS.md, fan-out).
 * Only for SQL built from a fixed set of strings: the cache never evicts.
 */
export function statementCache(db: Database): (sql: string) => Statement {
  const statements = new Map<string, Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}
