import type { Logger } from '../common/logger.js';
import { TrafficLedger } from './accounting/traffic-ledger.js';
import { AlarmEngine } from './alarms/alarm-engine.js';
import { AlarmRepository } from './alarms/alarm-repository.js';
import { AlarmRuleRepository } from './alarms/alarm-rule-repository.js';
import type { GatewayConfig } from './config.js';
import type { EventBus } from './events.js';
import type { FirmwareRepository } from './firmware/firmware-repository.js';
import type { DeviceCommands } from './fleet/device-commands.js';
import type { DeviceSessions } from './fleet/device-sessions.js';
import { MonitoringObservations } from './monitoring/monitoring-observations.js';
import { recordNumericValues } from './monitoring/monitoring-recorder.js';
import { TimeSeriesStore } from './monitoring/timeseries-store.js';
import type { Database } from './store/database.js';
import type { DeviceRepository } from './store/device-repository.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface ManagementServicesOptions {
  db: Database;
  devices: DeviceRepository;
  events: EventBus;
  firmware: FirmwareRepository;
  config: Pick<GatewayConfig, 'monitoring' | 'alarms' | 'accounting'>;
  log: Logger;
}

/**
 * Fault, performance and accounting management (Y.4702 8.2, 8.3, 8.7) in one place for the
 * composition root: the alarm engine, the monitoring time series and the accounting ledger. The
 * ledger exists before the transports start (they report traffic to it); `attach` wires what
 * needs DeviceCommands once they exist.
 */
export class ManagementServices {
  readonly ledger: TrafficLedger;
  readonly timeseries: TimeSeriesStore;
  readonly alarms: AlarmEngine;
  private observations: MonitoringObservations | undefined;
  private readonly housekeeping: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: ManagementServicesOptions) {
    const { db, config, log } = opts;
    this.ledger = new TrafficLedger({ db, log: log.child({ component: 'accounting' }), flushIntervalMs: config.accounting.flushIntervalMs });
    opts.firmware.onServed((transferId, bytes) => this.ledger.firmwareServed(transferId, bytes));
    this.timeseries = new TimeSeriesStore(db, {
      retentionMs: config.monitoring.retentionHours * HOUR_MS,
      maxSamplesPerSeries: config.monitoring.maxSamplesPerSeries,
    });
    this.alarms = new AlarmEngine({
      rules: new AlarmRuleRepository(db),
      alarms: new AlarmRepository(db),
      devices: opts.devices,
      events: opts.events,
      log: log.child({ component: 'alarms' }),
      offlineCheckIntervalMs: config.alarms.offlineCheckIntervalMs,
      restartGraceMs: config.alarms.restartGraceSeconds * 1000,
    });
    this.unsubscribe = opts.events.subscribe((event) => {
      if (event.type === 'device.notification') recordNumericValues(this.timeseries, event.endpoint, event.content, event.at);
    });
    this.housekeeping = setInterval(() => this.prune(), config.monitoring.pruneIntervalSeconds * 1000);
    this.housekeeping.unref();
  }

  /**
   * Counts operations sent to devices and keeps the monitoring observations on every device that
   * registers: set up where missing or different, withdrawn where monitoring is turned off.
   */
  attach(commands: DeviceCommands, sessions: Pick<DeviceSessions, 'onRegistered'>): void {
    commands.onOperation((endpoint, transport, kind) => this.ledger.operation(endpoint, transport, kind));
    const m = this.opts.config.monitoring;
    this.observations = new MonitoringObservations({
      commands,
      devices: this.opts.devices,
      registrations: sessions,
      log: this.opts.log.child({ component: 'monitoring' }),
      enabled: m.observe,
      pmin: m.pmin,
      pmax: m.pmax,
      maxConcurrent: m.maxConcurrentSetups,
      onCurrentValues: (endpoint, path, content) => {
        recordNumericValues(this.timeseries, endpoint, content, Date.now());
        this.alarms.evaluateValues(endpoint, path, content);
      },
    });
  }

  /** Enforces the retention windows: samples, cleared alarms, ledger hours. */
  prune(): void {
    try {
      const now = Date.now();
      const samples = this.timeseries.prune();
      const alarms = this.opts.db.open ? this.alarms.pruneHistory(now - this.opts.config.alarms.historyDays * DAY_MS) : 0;
      const ledger = this.ledger.repository.prune(now - this.opts.config.accounting.retentionDays * DAY_MS);
      if (samples.expired + samples.trimmed + alarms + ledger > 0) this.opts.log.debug({ ...samples, alarms, ledger }, 'retention enforced');
    } catch (err) {
      this.opts.log.error({ err }, 'enforcing retention failed');
    }
  }

  /** Stops the timers and writes what is buffered; the database stays open (its owner closes it). */
  close(): void {
    clearInterval(this.housekeeping);
    this.unsubscribe();
    this.observations?.close();
    this.alarms.close();
    this.timeseries.close();
    this.ledger.close();
  }
}
