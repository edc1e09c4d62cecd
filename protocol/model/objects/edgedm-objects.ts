import type { ObjectDefinition } from './definition.js';

/**
 * edgedm's own object, in the OMA range for private objects (32769–42768, not registered):
 * the operator's firmware-signing public key, written by the bootstrap server so that an LwM2M
 * device learns it the way an MQTT device does in its bootstrap grant. Only a bootstrap server
 * sees it: a DM server must not be able to change whom the device trusts.
 */
export const EDGEDM_FIRMWARE_TRUST_OBJECT_ID = 32769;

export const EDGEDM_OBJECT_DEFINITIONS: readonly ObjectDefinition[] = [
  {
    id: EDGEDM_FIRMWARE_TRUST_OBJECT_ID,
    name: 'edgedm Firmware Trust',
    urn: `urn:oma:lwm2m:x:${EDGEDM_FIRMWARE_TRUST_OBJECT_ID}`,
    objectVersion: '1.0',
    lwm2mVersion: '1.1',
    multiple: false,
    mandatory: false,
    description: 'The public key (SubjectPublicKeyInfo, DER; Ed25519) that signs firmware manifests this device accepts.',
    resources: [
      {
        id: 0,
        name: 'Trust Anchor',
        operations: 'RW',
        multiple: false,
        mandatory: true,
        type: 'opaque',
        description: 'SubjectPublicKeyInfo (DER) of the operator key; empty when none is provisioned.',
      },
    ],
  },
];
