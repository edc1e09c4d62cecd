import { LwM2mPath, type NotificationAttributes } from '../../protocol/model/index.js';

export interface MonitoredResource {
  path: LwM2mPath;
  /** The object instance the device must announce for the resource to be observed. */
  instance: string;
  /** Periodic notifications (pmax) are pointless for a log that is read whole: notify on change only. */
  periodic: boolean;
}

const resource = (path: string, periodic = true): MonitoredResource => {
  const p = LwM2mPath.parse(path);
  const [object, instance] = p.segments();
  return { path: p, instance: `/${object}/${instance}`, periodic };
};

/**
 * What fault and performance management observes on every device (Y.4702 8.2, 8.3): battery
 * level, memory free, error codes (Object 3), radio signal strength and link quality (Object 4),
 * and the Event Log's data (Object 20) where the device has one.
 */
export const MONITORED_RESOURCES: readonly MonitoredResource[] = [
  resource('/3/0/9'),
  resource('/3/0/10'),
  resource('/3/0/11'),
  resource('/4/0/2'),
  resource('/4/0/3'),
  resource('/20/0/4014', false),
];

export function attributesFor(r: MonitoredResource, periods: { pmin: number; pmax: number }): NotificationAttributes {
  return r.periodic ? { pmin: periods.pmin, pmax: periods.pmax } : { pmin: periods.pmin };
}
