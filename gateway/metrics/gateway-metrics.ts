import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEVICE_STATUSES, TRANSPORTS } from '../../protocol/states.js';
import type { CompletedOperation } from '../fleet/device-commands.js';
import type { FleetStatistics } from '../store/fleet-statistics.js';
import { ALARM_SEVERITIES } from '../alarms/alarm-rules.js';
import { ALARM_STATES } from '../alarms/alarm-view.js';
import { DEVICE_UPDATE_STATES, ROLLOUT_STATES } from '../rollouts/rollout-policy.js';
import { FLEET_COMMAND_STATES } from '../commands/command-repository.js';

/** What the MQTT broker counts (MqttTransport.stats). */
export interface MqttCounters {
  connections: number;
  connectsAdmitted: number;
  connectsRefused: number;
  messagesIn?: number;
  messagesOut?: number;
}

export interface GatewayMetricsOptions {
  version: string;
  /** The counts read at every scrape. */
  statistics: FleetStatistics;
  /** The MQTT broker's counters; absent until the broker runs. */
  mqtt?: () => MqttCounters | undefined;
  /** Node.js process metrics (CPU, memory, event loop, GC): `process_*` and `nodejs_*`. */
  processMetrics?: boolean;
}

/** Seconds: from a LAN round trip to a sleeping device answering late. */
const OPERATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Devices never registered have no transport: labelled `none`. */
const NO_TRANSPORT = 'none';

/**
 * The gateway's Prometheus metrics (`/metrics`), in a registry of its own (several gateways may
 * share a process, as in tests). Gauges of the fleet are read from the store when scraped (a few
 * GROUP BY counts); counters are fed by the parts as things happen. Every name starts `edgedm_`;
 * docs/metrics.md lists them.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'kind' | 'transport' | 'result'>;
  private readonly operationSeconds: Histogram<'kind' | 'transport'>;
  private readonly coapDatagrams: Counter<'direction'>;
  private readonly coapBytes: Counter<'direction'>;
  private readonly firmwareBytes: Counter;

  constructor(opts: GatewayMetricsOptions) {
    const registers = [this.registry];
    const stats = opts.statistics;
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    new Gauge({ name: 'edgedm_build_info', help: 'The running edgedm version (always 1)', labelNames: ['version'], registers }).set({ version: opts.version }, 1);

    new Gauge({
      name: 'edgedm_devices',
      help: 'Devices in the registry by status and transport (none: never registered)',
      labelNames: ['status', 'transport'],
      registers,
      collect() {
        this.reset();
        for (const status of DEVICE_STATUSES) for (const transport of [...TRANSPORTS, NO_TRANSPORT]) this.set({ status, transport }, 0);
        for (const r of stats.devices()) this.set({ status: r.status, transport: r.transport ?? NO_TRANSPORT }, r.n);
      },
    });

    this.operations = new Counter({
      name: 'edgedm_device_operations_total',
      help: 'Operations sent to devices, by kind, transport and result (success, failure: another result code, timeout, unreachable, cancelled, protocol, error)',
      labelNames: ['kind', 'transport', 'result'],
      registers,
    });
    this.operationSeconds = new Histogram({
      name: 'edgedm_device_operation_duration_seconds',
      help: 'Time from sending an operation to a device to its answer or failure',
      labelNames: ['kind', 'transport'],
      buckets: OPERATION_BUCKETS,
      registers,
    });

    new Gauge({
      name: 'edgedm_fleet_command_queue_depth',
      help: 'Per-device fleet-command rows waiting for their device (queued) or sent and not answered yet (sent)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const state of ['queued', 'sent']) this.set({ state }, 0);
        for (const r of stats.commandQueue()) this.set({ state: r.state }, r.n);
      },
    });
    new Gauge({
      name: 'edgedm_fleet_commands',
      help: 'Fleet commands by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const state of FLEET_COMMAND_STATES) this.set({ state }, 0);
        for (const r of stats.commands()) this.set({ state: r.state }, r.n);
      },
    });

    new Gauge({
      name: 'edgedm_rollouts',
      help: 'Firmware rollouts by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const state of ROLLOUT_STATES) this.set({ state }, 0);
        for (const r of stats.rollouts()) this.set({ state: r.state }, r.n);
      },
    });
    new Gauge({
      name: 'edgedm_rollout_devices',
      help: 'Devices of each rollout in progress (not finished) by update state',
      labelNames: ['rollout', 'state'],
      registers,
      collect() {
        this.reset();
        const rows = stats.rolloutDevices();
        for (const rollout of new Set(rows.map((r) => r.rollout))) for (const state of DEVICE_UPDATE_STATES) this.set({ rollout, state }, 0);
        for (const r of rows) this.set({ rollout: r.rollout, state: r.state }, r.n);
      },
    });

    new Gauge({
      name: 'edgedm_alarms',
      help: 'Alarms by severity and state (cleared ones while the history keeps them)',
      labelNames: ['severity', 'state'],
      registers,
      collect() {
        this.reset();
        for (const severity of ALARM_SEVERITIES) for (const state of ALARM_STATES) this.set({ severity, state }, 0);
        for (const r of stats.alarms()) this.set({ severity: r.severity, state: r.state }, r.n);
      },
    });

    const mqtt = opts.mqtt ?? (() => undefined);
    new Gauge({
      name: 'edgedm_mqtt_connections',
      help: 'Open MQTT sessions of authenticated devices',
      registers,
      collect() {
        this.set(mqtt()?.connections ?? 0);
      },
    });
    counterFrom('edgedm_mqtt_connects_total', 'MQTT CONNECTs let through (admitted) or refused with CONNACK 3 (refused) by the connection rate limit', 'result', registers, () => {
      const s = mqtt();
      return { admitted: s?.connectsAdmitted ?? 0, refused: s?.connectsRefused ?? 0 };
    });
    counterFrom('edgedm_mqtt_messages_total', 'MQTT PUBLISH packets from devices (in) and from the gateway to devices (out)', 'direction', registers, () => {
      const s = mqtt();
      return { in: s?.messagesIn ?? 0, out: s?.messagesOut ?? 0 };
    });

    this.coapDatagrams = new Counter({ name: 'edgedm_coap_datagrams_total', help: 'UDP datagrams on the CoAP endpoint, received (in) and sent (out)', labelNames: ['direction'], registers });
    this.coapBytes = new Counter({ name: 'edgedm_coap_bytes_total', help: 'UDP payload bytes on the CoAP endpoint, received (in) and sent (out)', labelNames: ['direction'], registers });
    for (const direction of ['in', 'out']) {
      this.coapDatagrams.inc({ direction }, 0);
      this.coapBytes.inc({ direction }, 0);
    }
    this.firmwareBytes = new Counter({ name: 'edgedm_firmware_bytes_served_total', help: 'Firmware image bytes delivered to devices (HTTP, CoAP, push)', registers });
  }

  /** An operation sent to a device ended (DeviceCommands.onCompleted). */
  operationCompleted = (op: CompletedOperation): void => {
    this.operations.inc({ kind: op.kind, transport: op.transport, result: op.outcome });
    this.operationSeconds.observe({ kind: op.kind, transport: op.transport }, op.seconds);
  };

  /** A datagram on the CoAP socket (the CoAP node's datagram meter). */
  coapDatagram = (direction: 'in' | 'out', bytes: number): void => {
    this.coapDatagrams.inc({ direction });
    this.coapBytes.inc({ direction }, bytes);
  };

  /** Firmware bytes served through a transfer (FirmwareRepository.onServed). */
  firmwareServed = (_transferId: string, bytes: number): void => {
    this.firmwareBytes.inc(bytes);
  };

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A counter whose values another part keeps (the broker's): read at every scrape. */
function counterFrom(name: string, help: string, label: string, registers: Registry[], read: () => Record<string, number>): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      this.reset();
      for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
    },
  });
}
