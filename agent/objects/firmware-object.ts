import { defaultObjectRegistry, FirmwareUpdateResource as R, ObjectId } from '../../protocol/model/objects/index.js';
import { DeliveryMethod } from '../../protocol/firmware/index.js';
import type { FirmwareUpdater } from '../firmware/firmware-updater.js';
import { ObjectInstance } from './instance.js';

/**
 * Object 5, Firmware Update, as 5.xml defines it: the resources map one to one onto the
 * updater, which owns the state machine.
 */
export class FirmwareUpdateObject extends ObjectInstance {
  constructor(updater: FirmwareUpdater) {
    super(defaultObjectRegistry.get(ObjectId.FIRMWARE_UPDATE)!, 0);
    this.resource(R.PACKAGE, { writeBlock: (chunk, block) => updater.writePackageBlock(chunk, block) });
    this.resource(R.PACKAGE_URI, { read: () => updater.packageUri, write: (v) => updater.writePackageUri(v as string) });
    this.resource(R.UPDATE, { execute: () => updater.executeUpdate() });
    this.resource(R.STATE, { read: () => updater.state });
    this.resource(R.UPDATE_RESULT, { read: () => updater.result });
    this.resource(R.PKG_NAME, { read: () => updater.pkgName ?? '' });
    this.resource(R.PKG_VERSION, { read: () => updater.pkgVersion ?? '' });
    this.resource(R.FIRMWARE_UPDATE_PROTOCOL_SUPPORT, { read: () => new Map(updater.supportedProtocols.map((p, i) => [i, p])) });
    this.resource(R.FIRMWARE_UPDATE_DELIVERY_METHOD, { read: () => DeliveryMethod.BOTH });
    this.resource(R.CANCEL, { execute: () => updater.executeCancel() });
    this.resource(R.SEVERITY, { read: () => updater.severity, write: (v) => updater.writeSeverity(Number(v)) });
    this.resource(R.LAST_STATE_CHANGE_TIME, { read: () => updater.lastStateChange });
    this.resource(R.MAXIMUM_DEFER_PERIOD, { read: () => updater.maxDeferSeconds, write: (v) => updater.writeMaxDeferPeriod(Number(v)) });
    this.resource(R.AUTOMATIC_UPGRADE_AT_DOWNLOAD, { read: () => updater.autoUpgrade, write: (v) => updater.writeAutoUpgrade(v as boolean) });
  }

  /** Lets the updater report changes to observers. */
  notifyChanged(resourceIds: number[]): void {
    for (const id of resourceIds) this.changed(id);
  }
}
