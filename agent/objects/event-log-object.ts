import { ResultCode } from '../../protocol/model/index.js';
import { defaultObjectRegistry, EventLogResource as R, ObjectId } from '../../protocol/model/objects/index.js';
import type { StateStore } from '../state/state-store.js';
import { ObjectInstance, OperationError } from './instance.js';

/** LogClass values of Object 20 (20.xml, resource 4010). */
export const LogClass = { GENERIC: 0, SYSTEM: 1, SECURITY: 2, EVENT: 3, TRACE: 4, PANIC: 5, CHARGING: 6 } as const;

export type LogSeverity = 'debug' | 'info' | 'warning' | 'error' | 'critical';

export interface LogEntry {
  at: string;
  class: number;
  severity: LogSeverity;
  message: string;
}

interface EventLogState {
  running: boolean;
  logClass: number;
  entries: LogEntry[];
}

const STATE_KEY = 'eventLog';
/** Enough for a day of a chatty device's events, small enough for a sensor's flash. */
export const MAX_LOG_ENTRIES = 256;

/**
 * Object 20, Event Log, instance 0: the agent's own diagnostic events (boot, bootstrap, refused
 * credentials, updates). LogData (4014) is UTF-8 text, one `time severity class message` line
 * per event (LogDataFormat 0: no specific format). Kept across reboots, wiped by factory reset.
 */
export class EventLogObject extends ObjectInstance {
  private log: EventLogState;

  constructor(
    private readonly state: StateStore,
    private readonly now: () => Date = () => new Date(),
  ) {
    super(defaultObjectRegistry.get(ObjectId.EVENT_LOG)!, 0);
    this.log = state.read<EventLogState>(STATE_KEY) ?? { running: true, logClass: LogClass.GENERIC, entries: [] };
    this.resource(R.LOG_CLASS, {
      read: () => this.log.logClass,
      write: (v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new OperationError(ResultCode.BAD_REQUEST, 'LogClass is 0-255');
        this.update({ logClass: v });
      },
    });
    this.resource(R.LOG_START, {
      execute: (args) => this.update({ running: true, entries: argument(args) === '1' ? this.log.entries : [] }),
    });
    this.resource(R.LOG_STOP, {
      execute: (args) => this.update({ running: false, entries: argument(args) === '1' ? [] : this.log.entries }),
    });
    this.resource(R.LOG_STATUS, { read: () => (this.log.running ? 0 : 1) | (this.log.entries.length > 0 ? 2 : 0) });
    this.resource(R.LOG_DATA, { read: () => new Uint8Array(Buffer.from(this.text(), 'utf8')) });
    this.resource(R.LOG_DATA_FORMAT, {
      read: () => 0,
      write: (v) => {
        if (v !== 0) throw new OperationError(ResultCode.BAD_REQUEST, 'only LogDataFormat 0 (plain bytes) is supported');
      },
    });
  }

  record(entry: { class: number; severity: LogSeverity; message: string }): void {
    if (!this.log.running) return;
    const entries = [...this.log.entries, { at: this.now().toISOString(), ...entry }].slice(-MAX_LOG_ENTRIES);
    this.update({ entries });
    this.changed(R.LOG_DATA);
  }

  entries(): readonly LogEntry[] {
    return this.log.entries;
  }

  private text(): string {
    return this.log.entries.map((e) => `${e.at} ${e.severity} ${e.class} ${e.message}\n`).join('');
  }

  private update(change: Partial<EventLogState>): void {
    this.log = { ...this.log, ...change };
    this.state.write(STATE_KEY, this.log);
  }
}

/** Argument 0 of LogStart/LogStop, e.g. `0='1'` (LwM2M execute argument syntax). */
function argument(args: string | undefined): string | undefined {
  const m = /(?:^|,)\s*0\s*(?:=\s*'([^']*)')?/.exec(args ?? '');
  return m ? (m[1] ?? '') : undefined;
}
