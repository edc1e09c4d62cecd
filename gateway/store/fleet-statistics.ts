import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './database.js';

type Statement<P extends unknown[], R> = BetterSqlite3.Statement<P, R>;

export interface Count {
  n: number;
}

/**
 * The counts a metrics scrape reads (Y.4702 8.9): a few GROUP BY queries over the registry,
 * the command queue, rollouts and alarms, each answered from an index or a small table, never a
 * walk over devices in JavaScript. Read-only; the modules that own the tables write them.
 */
export class FleetStatistics {
  private readonly stmt: {
    devices: Statement<[], { status: string; transport: string | null } & Count>;
    commandQueue: Statement<[], { state: string } & Count>;
    commands: Statement<[], { state: string } & Count>;
    rollouts: Statement<[], { state: string } & Count>;
    rolloutDevices: Statement<[], { rollout: string; state: string } & Count>;
    alarms: Statement<[], { severity: string; state: string } & Count>;
  };

  constructor(db: Database) {
    this.stmt = {
      devices: db.prepare('SELECT status, transport, COUNT(*) AS n FROM devices GROUP BY status, transport'),
      // Open rows live in open commands only: the join keeps the scan to those (index fleet_command_devices_state).
      commandQueue: db.prepare(
        `SELECT d.state AS state, COUNT(*) AS n FROM fleet_commands c JOIN fleet_command_devices d ON d.command_id = c.id
         WHERE c.finished_at IS NULL AND d.state IN ('queued', 'sent') GROUP BY d.state`,
      ),
      commands: db.prepare('SELECT state, COUNT(*) AS n FROM fleet_commands GROUP BY state'),
      rollouts: db.prepare('SELECT state, COUNT(*) AS n FROM rollouts GROUP BY state'),
      // Rollouts the engine still works on (running, paused, or cancelled/aborted with devices mid-update).
      rolloutDevices: db.prepare(
        `SELECT r.id AS rollout, d.state AS state, COUNT(*) AS n FROM rollouts r JOIN rollout_devices d ON d.rollout_id = r.id
         WHERE r.finished_at IS NULL GROUP BY r.id, d.state`,
      ),
      alarms: db.prepare(
        `SELECT severity, CASE WHEN cleared_at IS NOT NULL THEN 'cleared' WHEN acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'active' END AS state,
         COUNT(*) AS n FROM alarms GROUP BY 1, 2`,
      ),
    };
  }

  /** Devices by status and transport (`null`: never registered). */
  devices(): { status: string; transport: string | null; n: number }[] {
    return this.stmt.devices.all();
  }

  /** Per-device fleet-command rows waiting (`queued`) or in flight (`sent`). */
  commandQueue(): { state: string; n: number }[] {
    return this.stmt.commandQueue.all();
  }

  /** Fleet commands by state (running, completed, cancelled). */
  commands(): { state: string; n: number }[] {
    return this.stmt.commands.all();
  }

  rollouts(): { state: string; n: number }[] {
    return this.stmt.rollouts.all();
  }

  /** Devices by update state in every rollout not finished yet. */
  rolloutDevices(): { rollout: string; state: string; n: number }[] {
    return this.stmt.rolloutDevices.all();
  }

  /** Alarms by severity and state; cleared ones as long as the history keeps them. */
  alarms(): { severity: string; state: string; n: number }[] {
    return this.stmt.alarms.all();
  }
}
