import type { Database } from './database.js';

/**
 * Schema migrations, applied in order and recorded in `schema_migrations`. Never edit a
 * released migration: add the next one. Each runs in its own transaction.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'device registry',
    sql: `
      CREATE TABLE devices (
        endpoint             TEXT PRIMARY KEY,
        status               TEXT NOT NULL DEFAULT 'offline',
        transport            TEXT,
        factory_secret_hash  TEXT,
        credential_hash      TEXT,
        credential_issued_at INTEGER,
        lwm2m_version        TEXT,
        binding              TEXT,
        lifetime             INTEGER,
        queue_mode           INTEGER NOT NULL DEFAULT 0,
        address              TEXT,
        object_links         TEXT NOT NULL DEFAULT '[]',
        manufacturer         TEXT,
        model                TEXT,
        serial_number        TEXT,
        firmware_version     TEXT,
        last_seen            INTEGER,
        registered_at        INTEGER,
        created_at           INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL,
        decommissioned_at    INTEGER
      );
      CREATE INDEX devices_status ON devices (status);

      CREATE TABLE device_tags (
        endpoint TEXT NOT NULL REFERENCES devices (endpoint) ON DELETE CASCADE,
        tag      TEXT NOT NULL,
        PRIMARY KEY (endpoint, tag)
      );
      CREATE INDEX device_tags_tag ON device_tags (tag);

      CREATE TABLE groups (
        name        TEXT PRIMARY KEY,
        description TEXT,
        created_at  INTEGER NOT NULL
      );

      CREATE TABLE device_groups (
        endpoint   TEXT NOT NULL REFERENCES devices (endpoint) ON DELETE CASCADE,
        group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
        PRIMARY KEY (endpoint, group_name)
      );
      CREATE INDEX device_groups_group ON device_groups (group_name);
    `,
  },
  {
    version: 2,
    name: 'firmware repository, transfers and rollouts',
    sql: `
      CREATE TABLE firmware (
        id          TEXT PRIMARY KEY,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        name        TEXT NOT NULL,
        version     TEXT NOT NULL,
        vendor      TEXT NOT NULL,
        models      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        UNIQUE (name, version)
      );
      CREATE INDEX firmware_sha256 ON firmware (sha256);

      CREATE TABLE transfers (
        id            TEXT PRIMARY KEY,
        firmware_id   TEXT NOT NULL REFERENCES firmware (id),
        endpoint      TEXT NOT NULL,
        rollout_id    TEXT,
        transport     TEXT NOT NULL,
        allow_downgrade INTEGER NOT NULL DEFAULT 0,
        bytes_served  INTEGER NOT NULL DEFAULT 0,
        requests      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,
        last_request_at INTEGER
      );
      CREATE INDEX transfers_endpoint ON transfers (endpoint);
      CREATE INDEX transfers_rollout ON transfers (rollout_id);

      CREATE TABLE rollouts (
        id           TEXT PRIMARY KEY,
        firmware_id  TEXT NOT NULL REFERENCES firmware (id),
        target       TEXT NOT NULL,
        policy       TEXT NOT NULL,
        state        TEXT NOT NULL,
        reason       TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        finished_at  INTEGER
      );

      CREATE TABLE rollout_devices (
        rollout_id    TEXT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
        endpoint      TEXT NOT NULL,
        batch         INTEGER NOT NULL,
        position      INTEGER NOT NULL,
        state         TEXT NOT NULL,
        update_result INTEGER,
        reason        TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        from_version  TEXT,
        transfer_id   TEXT,
        started_at    INTEGER,
        finished_at   INTEGER,
        next_check_at INTEGER,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (rollout_id, endpoint)
      );
      CREATE INDEX rollout_devices_state ON rollout_devices (rollout_id, state);
    `,
  },
  {
    version: 3,
    name: 'fleet commands and the per-device command queue',
    sql: `
      CREATE TABLE fleet_commands (
        id          TEXT PRIMARY KEY,
        seq         INTEGER NOT NULL UNIQUE,
        target      TEXT NOT NULL,
        spec        TEXT NOT NULL,
        policy      TEXT NOT NULL,
        state       TEXT NOT NULL,
        reason      TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX fleet_commands_open ON fleet_commands (finished_at, seq);

      CREATE TABLE fleet_command_devices (
        command_id  TEXT NOT NULL REFERENCES fleet_commands (id) ON DELETE CASCADE,
        endpoint    TEXT NOT NULL,
        position    INTEGER NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        reason      TEXT,
        result      TEXT,
        queued_at   INTEGER NOT NULL,
        sent_at     INTEGER,
        finished_at INTEGER,
        expires_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (command_id, endpoint)
      );
      CREATE INDEX fleet_command_devices_state ON fleet_command_devices (command_id, state, position);
      CREATE INDEX fleet_command_devices_endpoint ON fleet_command_devices (endpoint, state);
    `,
  },
  {
    version: 4,
    name: 'plain CoAP devices managed by their address',
    sql: `
      CREATE TABLE coap_managed_devices (
        endpoint   TEXT PRIMARY KEY REFERENCES devices (endpoint) ON DELETE CASCADE,
        address    TEXT NOT NULL,
        lifetime   INTEGER NOT NULL,
        managed_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'monitoring time series',
    sql: `
      CREATE TABLE monitoring_samples (
        endpoint TEXT NOT NULL,
        path     TEXT NOT NULL,
        at       INTEGER NOT NULL,
        value    REAL NOT NULL
      );
      CREATE INDEX monitoring_samples_series ON monitoring_samples (endpoint, path, at);
      CREATE INDEX monitoring_samples_at ON monitoring_samples (at);
    `,
  },
  {
    version: 6,
    name: 'alarm rules and alarms, with the default rules',
    sql: `
      CREATE TABLE alarm_rules (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        severity    TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        params      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      );

      CREATE TABLE alarms (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id         TEXT NOT NULL,
        rule_name       TEXT NOT NULL,
        endpoint        TEXT NOT NULL,
        severity        TEXT NOT NULL,
        message         TEXT NOT NULL,
        value           TEXT,
        raised_at       INTEGER NOT NULL,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        cleared_at      INTEGER,
        clear_reason    TEXT
      );
      -- One open alarm per rule and device.
      CREATE UNIQUE INDEX alarms_open ON alarms (rule_id, endpoint) WHERE cleared_at IS NULL;
      CREATE INDEX alarms_endpoint ON alarms (endpoint, raised_at);
      CREATE INDEX alarms_cleared ON alarms (cleared_at);

      INSERT INTO alarm_rules (id, name, kind, severity, params, created_at, updated_at) VALUES
        ('battery-low', 'battery below 20 %', 'value', 'warning', '{"path":"/3/0/9","op":"<","threshold":20,"hysteresis":2}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
        ('battery-critical', 'battery below 10 %', 'value', 'critical', '{"path":"/3/0/9","op":"<","threshold":10,"hysteresis":2}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
        ('memory-low', 'memory free below 16 KiB', 'value', 'major', '{"path":"/3/0/10","op":"<","threshold":16,"hysteresis":4}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
        ('signal-weak', 'radio signal below -110 dBm', 'value', 'minor', '{"path":"/4/0/2","op":"<","threshold":-110,"hysteresis":3}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
        ('device-offline', 'offline longer than 10 min', 'offline', 'major', '{"afterSeconds":600}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
        ('update-failed', 'firmware update failed', 'update-failed', 'major', '{}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
        ('error-code', 'device error code raised', 'value', 'major', '{"path":"/3/0/11","op":"!=","threshold":0,"hysteresis":0}', CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
    `,
  },
  {
    version: 7,
    name: 'accounting ledger per device and hour',
    sql: `
      CREATE TABLE accounting_traffic (
        endpoint       TEXT NOT NULL,
        hour           INTEGER NOT NULL,
        transport      TEXT NOT NULL,
        messages_in    INTEGER NOT NULL DEFAULT 0,
        messages_out   INTEGER NOT NULL DEFAULT 0,
        bytes_in       INTEGER NOT NULL DEFAULT 0,
        bytes_out      INTEGER NOT NULL DEFAULT 0,
        firmware_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (endpoint, hour, transport)
      );
      CREATE INDEX accounting_traffic_hour ON accounting_traffic (hour);

      CREATE TABLE accounting_operations (
        endpoint  TEXT NOT NULL,
        hour      INTEGER NOT NULL,
        transport TEXT NOT NULL,
        kind      TEXT NOT NULL,
        count     INTEGER NOT NULL,
        PRIMARY KEY (endpoint, hour, transport, kind)
      );
      CREATE INDEX accounting_operations_hour ON accounting_operations (hour);
    `,
  },
  {
    version: 8,
    name: 'operator accounts, API tokens and the append-only audit log',
    sql: `
      CREATE TABLE operators (
        username      TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );

      CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        username     TEXT NOT NULL REFERENCES operators (username) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('session', 'api')),
        token_hash   TEXT NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        last_used_at INTEGER
      );
      CREATE INDEX api_tokens_username ON api_tokens (username);

      CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        actor   TEXT,
        role    TEXT,
        action  TEXT NOT NULL,
        method  TEXT NOT NULL,
        path    TEXT NOT NULL,
        target  TEXT,
        status  INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
        source  TEXT,
        details TEXT
      );
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE INDEX audit_log_actor ON audit_log (actor, id);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 9,
    name: 'the device boot the registry read the Device object in',
    sql: `ALTER TABLE devices ADD COLUMN info_boot_id TEXT;`,
  },
  {
    version: 10,
    name: 'per-device DTLS pre-shared keys, encrypted at rest',
    sql: `
      CREATE TABLE device_psk (
        endpoint   TEXT PRIMARY KEY REFERENCES devices (endpoint) ON DELETE CASCADE,
        identity   TEXT NOT NULL UNIQUE,
        key_sealed BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: 'factory secrets kept sealed, for the LwM2M bootstrap PSK',
    // NULL for devices imported before: they keep bootstrapping as they did (hash only).
    sql: `ALTER TABLE devices ADD COLUMN factory_secret_sealed BLOB;`,
  },
];

/** Applies the pending migrations; returns the versions applied. Refuses a database from a newer release. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const current = (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`the database schema is version ${current}, newer than this edgedm release knows (${latest}); upgrade edgedm`);
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
    applied.push(m.version);
  }
  return applied;
}
