import { ConnectivityMonitoringResource as R, defaultObjectRegistry, ObjectId } from '../../protocol/model/objects/index.js';
import type { HostAdapter } from '../host/host-adapter.js';
import { ObjectInstance } from './instance.js';

const indexed = <T>(values: readonly T[]) => new Map(values.map((v, i) => [i, v]));

/** Object 4, Connectivity Monitoring, read live from the host's network state. */
export class ConnectivityMonitoringObject extends ObjectInstance {
  constructor(host: HostAdapter) {
    super(defaultObjectRegistry.get(ObjectId.CONNECTIVITY_MONITORING)!, 0);
    this.resource(R.NETWORK_BEARER, { read: () => host.network().bearer });
    this.resource(R.AVAILABLE_NETWORK_BEARER, { read: () => indexed(host.network().availableBearers) });
    this.resource(R.RADIO_SIGNAL_STRENGTH, { read: () => host.network().signalStrength });
    this.resource(R.LINK_QUALITY, { read: () => host.network().linkQuality });
    this.resource(R.IP_ADDRESSES, { read: () => indexed(host.network().ipAddresses) });
    this.resource(R.ROUTER_IP_ADDRESSES, { read: () => indexed(host.network().routerAddresses) });
    this.resource(R.CELL_ID, { read: () => host.network().cellId });
  }
}
