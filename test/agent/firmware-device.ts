import { join } from 'node:path';
import { createAgentObjects, type AgentObjects, type AgentObjectsOptions } from '../../agent/objects/index.js';
import { StateStore } from '../../agent/state/state-store.js';
import { LwM2mPath, type LwM2mValue, type OperationResult } from '../../protocol/model/index.js';
import { SimulatedHost, type SimulatedHostOptions } from '../../simulators/hardware/simulated-host.js';
import { testLog } from '../support/harness.js';
import { recordingActions } from './objects.js';

/**
 * One device for firmware tests: the agent's real object tree on simulated A/B flash, with
 * reboots and power cuts that rebuild everything from what is on disk, as a real device would.
 */
export class FirmwareTestDevice {
  host!: SimulatedHost;
  objects!: AgentObjects;
  reboots = 0;
  /** Whether the agent reaches its server after a boot (the trial's health check). */
  reachesServer = true;
  private stopped = false;

  constructor(
    private readonly dir: string,
    private readonly trustAnchor: Uint8Array | undefined,
    private readonly hostOptions: Partial<SimulatedHostOptions> = {},
    private readonly firmwareOptions: AgentObjectsOptions['firmware'] = {},
  ) {
    this.powerOn();
  }

  powerOn(): void {
    this.host = new SimulatedHost({ serialNumber: 'SN-FW', model: 'EDM-T', seed: 3, bootDelayMs: 5, flashDir: join(this.dir, 'flash'), ...this.hostOptions });
    this.boot();
  }

  /** The end of a test: nothing of this device runs on (no reboot into a removed directory). */
  shutdown(): void {
    this.stopped = true;
    this.objects.firmware!.close();
  }

  /** The power fails: nothing is shut down, nothing is saved beyond what already is. */
  powerCut(): void {
    this.objects.firmware!.close();
    this.powerOn();
  }

  get firmware() {
    return this.objects.firmware!;
  }

  runningVersion(): string {
    return this.host.identity().firmwareVersion;
  }

  async write(path: string, value: LwM2mValue, type: 'string' | 'opaque' | 'integer' | 'unsigned' | 'boolean' = 'string'): Promise<OperationResult> {
    const p = LwM2mPath.parse(path);
    return this.objects.tree.handle({ kind: 'write', path: p, mode: 'replace', content: [{ path: p, type, value }] }, 'server');
  }

  async exec(path: string): Promise<OperationResult> {
    return this.objects.tree.handle({ kind: 'execute', path: LwM2mPath.parse(path) }, 'server');
  }

  async read(path: string): Promise<LwM2mValue | undefined> {
    const r = await this.objects.tree.handle({ kind: 'read', path: LwM2mPath.parse(path) }, 'server');
    return r.content?.[0]?.value;
  }

  /** State and Update Result, as a server reads them. */
  async status(): Promise<{ state: number; result: number }> {
    return { state: Number(await this.read('/5/0/3')), result: Number(await this.read('/5/0/5')) };
  }

  private boot(): void {
    const actions = recordingActions().actions;
    actions.reboot = () => void this.reboot();
    this.objects = createAgentObjects({
      host: this.host,
      state: new StateStore(join(this.dir, 'agent'), testLog),
      factory: { endpoint: 'dev-fw', secret: 'factory-secret-0123456789', bootstrapServerUri: 'mqtt://127.0.0.1:1' },
      supportedBindings: 'M',
      actions,
      log: testLog,
      firmware: { healthDeadlineMs: 400, retryDelayMs: 20, downloadAttempts: 3, ...this.firmwareOptions },
    });
    if (this.trustAnchor) this.objects.setFirmwareTrustAnchor(this.trustAnchor);
    this.objects.firmware!.resume();
    if (this.reachesServer) setTimeout(() => void this.objects.firmware?.registered(), 20);
  }

  private async reboot(): Promise<void> {
    this.reboots++;
    this.objects.firmware!.close();
    await this.host.reboot();
    if (!this.stopped) this.boot();
  }
}
