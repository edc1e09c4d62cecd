import { LwM2mPath, type LwM2mRecord } from '../../protocol/model/index.js';
import type { DeviceInfo } from '../store/device-repository.js';

const DEVICE_INFO_RESOURCES: ReadonlyArray<[string, keyof DeviceInfo]> = [
  ['/3/0/0', 'manufacturer'],
  ['/3/0/1', 'model'],
  ['/3/0/2', 'serialNumber'],
  ['/3/0/3', 'firmwareVersion'],
];
const PATHS = DEVICE_INFO_RESOURCES.map(([p, k]) => [LwM2mPath.parse(p), k] as const);

/** The registry's identity columns found among Device object records, or undefined when none are present. */
export function deviceInfoFromRecords(records: readonly LwM2mRecord[]): DeviceInfo | undefined {
  let info: DeviceInfo | undefined;
  for (const record of records) {
    for (const [path, key] of PATHS) {
      if (record.path.equals(path) && typeof record.value === 'string') {
        info ??= {};
        info[key] = record.value;
      }
    }
  }
  return info;
}

/** The Device object resources the registry keeps, one by one (for clients that cannot read a whole instance). */
export const DEVICE_INFO_PATHS: readonly LwM2mPath[] = PATHS.map(([path]) => path);
