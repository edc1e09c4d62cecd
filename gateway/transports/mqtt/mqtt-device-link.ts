import { randomUUID } from 'node:crypto';
import type { Aedes } from 'aedes';
import type { Logger } from '../../../common/logger.js';
import type { Operation, OperationResult } from '../../../protocol/model/index.js';
import { encodeRequestMessage } from '../../../protocol/mqtt/codec.js';
import { topicFor } from '../../../protocol/mqtt/topics.js';
import { DeviceLinkError, type DeviceLink, type SendOptions } from '../../device-link.js';
import type { PendingRequests } from './pending-requests.js';
import type { SessionTable } from './sessions.js';

/** DeviceLink over the embedded broker: a request goes out on `…/{ep}/req`, its answer comes back on `…/{ep}/res`. */
export class MqttDeviceLink implements DeviceLink {
  readonly transport = 'mqtt' as const;

  constructor(
    private readonly broker: Aedes,
    private readonly sessions: SessionTable,
    private readonly pending: PendingRequests,
    private readonly log: Logger,
  ) {}

  isConnected(endpoint: string): boolean {
    return this.sessions.get(endpoint)?.role === 'operational';
  }

  async send(endpoint: string, operation: Operation, options: SendOptions): Promise<OperationResult> {
    if (!this.isConnected(endpoint)) {
      throw new DeviceLinkError('unreachable', endpoint, `${endpoint} is not connected`);
    }
    const id = options.requestId ?? randomUUID();
    if (this.pending.has(id)) throw new DeviceLinkError('protocol', endpoint, `a request with id ${id} is already in flight`);
    const payload = Buffer.from(encodeRequestMessage({ id, operation }));
    const answer = this.pending.wait(id, endpoint, options.timeoutMs, options.signal);
    this.broker.publish(
      { cmd: 'publish', topic: topicFor(endpoint, 'req'), payload, qos: 1, retain: false, dup: false },
      (err) => {
        if (!err) return;
        // A broker shutting down fails what was still going out: expected, not worth a warning.
        if (this.broker.closed) this.log.debug({ endpoint, reason: err.message }, 'request not sent: the broker is closing');
        else this.log.warn({ err, endpoint }, 'publishing a request failed');
        this.pending.fail(id, endpoint, `the request could not be published: ${err.message}`);
      },
    );
    this.log.debug({ endpoint, id, op: operation.kind, path: operation.path.toString() }, 'request sent');
    return answer;
  }

  disconnect(endpoint: string, reason: string): void {
    const session = this.sessions.get(endpoint);
    if (!session) return;
    this.log.info({ endpoint, reason }, 'closing device session');
    session.client.close();
  }
}
