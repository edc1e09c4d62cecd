import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../common/logger.js';
import type { AgentBinding, BindingEvents } from './bindings/binding.js';
import { resolveAgentTransport, type AgentConfig, type AgentTransport } from './config.js';
import { CoapBinding, type CoapBindingOptions } from './bindings/coap/coap-binding.js';
import { Lwm2mBinding, type Lwm2mBindingOptions } from './bindings/lwm2m/lwm2m-binding.js';
import { MqttBinding } from './bindings/mqtt/mqtt-binding.js';
import type { HostAdapter } from './host/host-adapter.js';
import { createAgentObjects, type AgentObjects, type AgentObjectsOptions } from './objects/index.js';
import { ObservationManager } from './observation/observation-manager.js';
import { StateStore } from './state/state-store.js';
import { RecentRequests } from './state/recent-requests.js';

/** The agent's configuration with its host chosen and its logger made. */
export type AgentOptions = Omit<AgentConfig, 'host' | 'logLevel' | 'transport' | 'coap' | 'firmwareTrustAnchor' | 'tlsCaFile'> & {
  host: HostAdapter;
  log: Logger;
  /** Default `auto`: `bootstrapServerUri`'s scheme decides (coap:// LwM2M, mqtt:// MQTT). `coap`: plain CoAP, registering with the Resource Directory at `bootstrapServerUri`. */
  transport?: AgentTransport;
  /** SPKI DER of the firmware-signing key, when it is not provisioned at bootstrap (plain CoAP has none). */
  firmwareTrustAnchor?: Uint8Array;
  /** CA certificates (PEM) trusted for mqtts:// servers besides the system's. */
  tlsCa?: string;
  firmware?: AgentObjectsOptions['firmware'];
  /** LwM2M client tuning (queue mode, timers), when the agent speaks LwM2M. */
  lwm2m?: Pick<Lwm2mBindingOptions, 'queueMode' | 'queueAwakeMs' | 'updateIntervalMs' | 'requestTimeoutMs' | 'bootstrapTimeoutMs' | 'listen'>;
  /** Plain CoAP tuning (registration lifetime, timers, listen address) and the DTLS PSK of a coaps:// directory, when the agent speaks plain CoAP. */
  coap?: Pick<CoapBindingOptions, 'lifetimeSeconds' | 'updateIntervalMs' | 'requestTimeoutMs' | 'listen' | 'transmission' | 'psk'>;
};

/** Event Log (Object 20) LogClass values used by the agent (20.xml: 1 = system, 6 = security, …). */
const LOG_CLASS_SYSTEM = 1;

export interface AgentEvents {
  /** The object tree was (re)built from on-disk state: at start, after a reboot or a power-on. */
  booted: [];
  registered: [];
  bootstrapped: [];
  disconnected: [reason: string];
  rebooting: [];
  'factory-reset': [];
}

/**
 * The device agent: boots its object tree from on-disk state, runs a transport binding, and
 * carries out what the server asks of the device itself (reboot, factory reset). A reboot is a
 * real re-boot of the agent: objects are rebuilt from what was persisted, nothing else survives.
 */
export class Agent extends EventEmitter<AgentEvents> {
  private current: { objects: AgentObjects; observations: ObservationManager; binding: AgentBinding } | undefined;
  private busy: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly opts: AgentOptions) {
    super();
  }

  get endpoint(): string {
    return this.opts.endpoint;
  }

  get registered(): boolean {
    return this.current?.binding.registered ?? false;
  }

  get objects(): AgentObjects | undefined {
    return this.current?.objects;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.boot();
  }

  /** Orderly shutdown: deregisters first. */
  async stop(): Promise<void> {
    this.running = false;
    await this.busy;
    await this.shutdown(true);
  }

  /** Abrupt stop, as a power cut: no deregister, the server sees the link drop. */
  async powerOff(): Promise<void> {
    this.running = false;
    await this.busy;
    await this.shutdown(false);
  }

  /** Resolves at the next successful registration (or at once when registered). */
  whenRegistered(timeoutMs = 30_000): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('registered', onRegistered);
        reject(new Error(`${this.endpoint} did not register within ${timeoutMs} ms`));
      }, timeoutMs);
      const onRegistered = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('registered', onRegistered);
    });
  }

  private boot(): void {
    const { opts } = this;
    const log = opts.log;
    const state = new StateStore(opts.stateDir, log);
    let binding: AgentBinding | undefined;
    const transport = resolveAgentTransport(opts.transport ?? 'auto', opts.bootstrapServerUri);
    const objects = createAgentObjects({
      host: opts.host,
      state,
      factory: { endpoint: opts.endpoint, secret: opts.factorySecret, bootstrapServerUri: opts.bootstrapServerUri },
      supportedBindings: transport === 'mqtt' ? 'M' : 'U',
      log,
      ...(opts.firmware ? { firmware: opts.firmware } : {}),
      actions: {
        reboot: () => this.serialise(() => this.reboot()),
        factoryReset: () => this.serialise(() => this.factoryReset()),
        registrationUpdate: () => binding?.registrationUpdate(),
        disable: (seconds) => this.serialise(() => this.disable(seconds)),
        bootstrapRequest: () => this.serialise(() => this.rebootstrap()),
      },
    });
    if (opts.firmwareTrustAnchor) objects.setFirmwareTrustAnchor(opts.firmwareTrustAnchor);
    const observations = new ObservationManager({ tree: objects.tree, notify: (n) => binding?.notify(n) ?? false, log });
    const events: BindingEvents = {
      bootstrapped: () => this.emit('bootstrapped'),
      registered: () => {
        void objects.firmware?.registered().catch((err: unknown) => log.error({ err }, 'firmware health check failed'));
        this.emit('registered');
      },
      disconnected: (reason) => this.emit('disconnected', reason),
    };
    const common = { endpoint: opts.endpoint, objects, observations, reconnect: opts.reconnect, log, events };
    binding =
      transport === 'lwm2m'
        ? new Lwm2mBinding({ ...common, ...(opts.lwm2m ?? {}) })
        : transport === 'coap'
          ? new CoapBinding({ ...common, resourceDirectoryUri: opts.bootstrapServerUri, ...(opts.coap ?? {}) })
          : new MqttBinding({
              ...common,
              // This boot's: what the server read of the device under another one may have changed.
              bootId: randomUUID(),
              keepaliveSeconds: opts.keepaliveSeconds,
              ...(opts.host.radio ? { radio: opts.host.radio } : {}),
              ...(opts.tlsCa ? { tlsCa: opts.tlsCa } : {}),
              // Rebuilt at each boot like everything else: what it kept on disk comes back, memory does not.
              recentRequests: new RecentRequests(opts.stateDir, log),
            });
    this.current = { objects, observations, binding };
    objects.eventLog.record({ class: LOG_CLASS_SYSTEM, severity: 'info', message: 'agent booted' });
    this.emit('booted');
    binding.start();
    objects.firmware?.resume();
  }

  private async shutdown(graceful: boolean): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    current.objects.firmware?.close();
    current.observations.close();
    await current.binding.stop(graceful);
  }

  private serialise(task: () => Promise<void>): void {
    this.busy = this.busy.then(task).catch((err) => this.opts.log.error({ err }, 'device action failed'));
  }

  private async reboot(): Promise<void> {
    if (!this.running) return;
    this.opts.log.info('rebooting');
    this.current?.objects.eventLog.record({ class: LOG_CLASS_SYSTEM, severity: 'info', message: 'reboot requested' });
    this.emit('rebooting');
    await this.shutdown(true);
    await this.opts.host.reboot();
    if (this.running) this.boot();
  }

  private async factoryReset(): Promise<void> {
    if (!this.running) return;
    this.opts.log.warn('factory reset: wiping operational state');
    this.emit('factory-reset');
    await this.shutdown(true);
    new StateStore(this.opts.stateDir, this.opts.log).wipe();
    await this.opts.host.factoryReset();
    if (this.running) this.boot();
  }

  /** Server Disable (/1/x/4): deregister and stay away for the disable timeout. */
  private async disable(seconds: number): Promise<void> {
    if (!this.running) return;
    this.opts.log.info({ seconds }, 'disabled by the server');
    await this.shutdown(true);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    if (this.running) this.boot();
  }

  /** Bootstrap-Request Trigger (/1/x/9): forget the DM account and bootstrap again. */
  private async rebootstrap(): Promise<void> {
    if (!this.running) return;
    await this.shutdown(true);
    new StateStore(this.opts.stateDir, this.opts.log).wipe();
    if (this.running) this.boot();
  }
}
