import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { defaultObjectRegistry, EDGEDM_FIRMWARE_TRUST_OBJECT_ID, ObjectId } from '../../protocol/model/objects/index.js';
import type { HostAdapter } from '../host/host-adapter.js';
import type { StateStore } from '../state/state-store.js';
import { ConnectivityMonitoringObject } from './connectivity-object.js';
import { DeviceObject, type DeviceActions } from './device-object.js';
import { EventLogObject } from './event-log-object.js';
import { FirmwareUpdateObject } from './firmware-object.js';
import { FirmwareTrustObject } from './firmware-trust-object.js';
import { FirmwareUpdater, type FirmwareUpdaterOptions } from '../firmware/firmware-updater.js';
import { LwM2mObject } from './lwm2m-object.js';
import { ObjectTree } from './object-tree.js';
import { SecurityObject, type FactoryIdentity } from './security-object.js';
import { ServerObject, type ServerActions, type ServerInstance } from './server-object.js';

import { ObjectInstance } from './instance.js';
export { OperationError, ObjectInstance, type ResourceContent, type ResourceImpl } from './instance.js';
export { LwM2mObject, type CallerRole } from './lwm2m-object.js';
export { ObjectTree } from './object-tree.js';
export { LogClass, type LogEntry, type LogSeverity } from './event-log-object.js';
export type { FactoryIdentity, ServerAccount } from './security-object.js';

export type AgentActions = DeviceActions & ServerActions;

export interface AgentObjectsOptions {
  host: HostAdapter;
  state: StateStore;
  factory: FactoryIdentity;
  /** Binding letters for /3/0/16, e.g. "M" for MQTT. */
  supportedBindings: string;
  actions: AgentActions;
  log: Logger;
  /** Firmware update timing (tests and simulators shorten it). */
  firmware?: Pick<FirmwareUpdaterOptions, 'healthDeadlineMs' | 'downloadAttempts' | 'retryDelayMs' | 'pushIdleMs' | 'sources'>;
}

export interface AgentObjects {
  tree: ObjectTree;
  device: DeviceObject;
  security: SecurityObject;
  server: ServerObject;
  connectivity: ConnectivityMonitoringObject;
  eventLog: EventLogObject;
  /** Object 5, when the host has firmware slots. */
  firmware: FirmwareUpdater | undefined;
  /** The key firmware manifests must be signed with, as provisioned at bootstrap. */
  setFirmwareTrustAnchor(anchor: Uint8Array | undefined): void;
  /** The DM server accounts (Object 1 instances), by instance id. */
  servers(): ServerInstance[];
}

/** Builds the agent's object tree from its state and host. */
export function createAgentObjects(opts: AgentObjectsOptions): AgentObjects {
  const { host, state, log, actions } = opts;
  const tree = new ObjectTree();
  const security = new SecurityObject(state, opts.factory, log);
  const server = new ServerObject(state, actions, log);
  const device = new DeviceObject(host, state, opts.supportedBindings, actions);
  const connectivity = new ConnectivityMonitoringObject(host);
  const eventLog = new EventLogObject(state, () => host.now());

  tree.add(security);
  tree.add(server);
  tree.add(single(ObjectId.DEVICE, device));
  tree.add(single(ObjectId.CONNECTIVITY_MONITORING, connectivity));
  tree.add(single(ObjectId.EVENT_LOG, eventLog));

  const trustAnchor = () => {
    const saved = state.read<string>(TRUST_ANCHOR_KEY);
    return saved ? new Uint8Array(Buffer.from(saved, 'base64')) : undefined;
  };
  const setFirmwareTrustAnchor = (anchor: Uint8Array | undefined) =>
    anchor ? state.write(TRUST_ANCHOR_KEY, Buffer.from(anchor).toString('base64')) : state.delete(TRUST_ANCHOR_KEY);
  // Only a bootstrap server sees it: the DM server must not change whom the device trusts.
  const trust = new LwM2mObject(defaultObjectRegistry.get(EDGEDM_FIRMWARE_TRUST_OBJECT_ID)!, { hiddenFromServer: true });
  trust.add(new FirmwareTrustObject(trustAnchor, setFirmwareTrustAnchor));
  tree.add(trust);
  let firmware: FirmwareUpdater | undefined;
  if (host.firmware) {
    let object: FirmwareUpdateObject | undefined;
    firmware = new FirmwareUpdater({
      slots: host.firmware,
      state,
      dir: join(state.dir, 'firmware'),
      model: () => host.identity().model,
      trustAnchor,
      now: () => host.now(),
      log: log.child({ component: 'firmware' }),
      reboot: actions.reboot,
      changed: (ids) => object?.notifyChanged(ids),
      ...opts.firmware,
    });
    object = new FirmwareUpdateObject(firmware);
    tree.add(single(ObjectId.FIRMWARE_UPDATE, object));
  }

  return {
    tree,
    device,
    security,
    server,
    connectivity,
    eventLog,
    firmware,
    setFirmwareTrustAnchor,
    servers: () => server.instancesOf(),
  };
}

const TRUST_ANCHOR_KEY = 'firmwareTrustAnchor';

function single(objectId: number, instance: ObjectInstance): LwM2mObject {
  const object = new LwM2mObject(defaultObjectRegistry.get(objectId)!);
  object.add(instance);
  return object;
}
