import { defaultObjectRegistry, EDGEDM_FIRMWARE_TRUST_OBJECT_ID } from '../../protocol/model/objects/index.js';
import { ObjectInstance } from './instance.js';

/** The firmware trust anchor as an object (32769), so an LwM2M bootstrap server can provision it. */
export class FirmwareTrustObject extends ObjectInstance {
  constructor(read: () => Uint8Array | undefined, write: (anchor: Uint8Array | undefined) => void) {
    super(defaultObjectRegistry.get(EDGEDM_FIRMWARE_TRUST_OBJECT_ID)!, 0);
    this.resource(0, {
      read: () => read() ?? new Uint8Array(0),
      write: (value) => write((value as Uint8Array).length > 0 ? (value as Uint8Array) : undefined),
    });
  }
}
