import type { DeviceRecord } from '../store/device-repository.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API's view of a device: never a secret or a secret's hash. */
export function deviceView(d: DeviceRecord) {
  return {
    endpoint: d.endpoint,
    status: d.status,
    transport: d.transport,
    lastSeen: iso(d.lastSeen),
    registeredAt: iso(d.registeredAt),
    lifetime: d.lifetime,
    lwm2mVersion: d.lwm2mVersion,
    binding: d.binding,
    queueMode: d.queueMode,
    address: d.address,
    manufacturer: d.manufacturer,
    model: d.model,
    serialNumber: d.serialNumber,
    firmwareVersion: d.firmwareVersion,
    tags: d.tags,
    groups: d.groups,
    objects: d.objectLinks.map((l) => l.target),
    hasCredential: d.credentialHash !== null,
    hasBootstrapPsk: d.hasBootstrapPsk,
    createdAt: iso(d.createdAt)!,
    updatedAt: iso(d.updatedAt)!,
    decommissionedAt: iso(d.decommissionedAt),
  };
}
