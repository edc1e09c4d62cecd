import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Logger } from '../../common/logger.js';
import { migrate } from './migrations.js';

export type Database = BetterSqlite3.Database;

export const DATABASE_FILE = 'edgedm.db';

/**
 * Opens (creating if needed) the registry database under `dataDir` and brings its schema up to
 * date. WAL keeps readers (API) from blocking the writer (sessions); NORMAL sync is durable
 * across process crashes, which is what a gateway restart needs.
 */
export function openDatabase(dataDir: string, log: Logger): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, DATABASE_FILE);
  const db = new BetterSqlite3(file);
  try {
    chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const applied = migrate(db);
    if (applied.length > 0) log.info({ file, migrations: applied }, 'database schema migrated');
    else log.debug({ file }, 'database opened');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** For tests that need a registry but no files. */
export function openMemoryDatabase(): Database {
  const db = new BetterSqlite3(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}
