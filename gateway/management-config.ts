import { ConfigError, requirePositiveInteger } from '../common/config.js';
import type { GatewayConfig } from './config.js';

/** Checks the `monitoring.*`, `alarms.*` and `accounting.*` keys. */
export function validateManagementConfig(c: Pick<GatewayConfig, 'monitoring' | 'alarms' | 'accounting'>): void {
  requirePositiveInteger('monitoring.pmin', c.monitoring.pmin, 0);
  requirePositiveInteger('monitoring.pmax', c.monitoring.pmax, 1);
  if (c.monitoring.pmax < c.monitoring.pmin) throw new ConfigError('"monitoring.pmax" must not be below "monitoring.pmin"');
  requirePositiveInteger('monitoring.maxConcurrentSetups', c.monitoring.maxConcurrentSetups, 1);
  requirePositiveInteger('monitoring.retentionHours', c.monitoring.retentionHours, 1);
  requirePositiveInteger('monitoring.maxSamplesPerSeries', c.monitoring.maxSamplesPerSeries, 10);
  requirePositiveInteger('monitoring.pruneIntervalSeconds', c.monitoring.pruneIntervalSeconds, 1);
  requirePositiveInteger('alarms.offlineCheckIntervalMs', c.alarms.offlineCheckIntervalMs, 10);
  requirePositiveInteger('alarms.restartGraceSeconds', c.alarms.restartGraceSeconds, 0);
  requirePositiveInteger('alarms.historyDays', c.alarms.historyDays, 1);
  requirePositiveInteger('accounting.flushIntervalMs', c.accounting.flushIntervalMs, 10);
  requirePositiveInteger('accounting.retentionDays', c.accounting.retentionDays, 1);
}

/**
 * The demo's monitoring periods: a minute rather than ten, so its charts move while someone
 * watches. Periods set by the operator (file, environment) are kept.
 */
export function withDemoMonitoring<C extends Pick<GatewayConfig, 'monitoring'>>(config: C, defaults: Pick<GatewayConfig, 'monitoring'>): C {
  const m = config.monitoring;
  if (m.pmin !== defaults.monitoring.pmin || m.pmax !== defaults.monitoring.pmax) return config;
  return { ...config, monitoring: { ...m, pmin: 10, pmax: 60 } };
}
