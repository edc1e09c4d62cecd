import type { Aedes, AedesPublishPacket } from 'aedes';
import type { Logger } from '../../../common/logger.js';
import { ResultCode } from '../../../protocol/model/index.js';
import {
  MessageDecodeError,
  decodeBootstrapRequest,
  decodeDeregisterMessage,
  decodeNotifyMessage,
  decodeRegisterMessage,
  decodeResponseMessage,
  decodeStatusMessage,
  decodeUpdateMessage,
  encodeBootstrapResponse,
  type CodecLimits,
} from '../../../protocol/mqtt/codec.js';
import { GATEWAY_SUBSCRIPTIONS, parseTopic, topicFor, type TopicKind } from '../../../protocol/mqtt/topics.js';
import type { DeviceSessionHandler } from '../../device-link.js';
import type { PendingRequests } from './pending-requests.js';
import type { SessionTable } from './sessions.js';

/**
 * Decodes what devices publish and hands it to the fleet layer. The broker's ACL already
 * guarantees that `edgedm/v1/{ep}/…` was published by `ep`, so the topic names the sender.
 */
export class UplinkRouter {
  constructor(
    private readonly broker: Aedes,
    private readonly sessions: SessionTable,
    private readonly pending: PendingRequests,
    private readonly handler: DeviceSessionHandler,
    private readonly limits: CodecLimits,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await Promise.all(
      GATEWAY_SUBSCRIPTIONS.map(
        (filter) => new Promise<void>((resolve) => this.broker.subscribe(filter, (packet, cb) => this.deliver(packet, cb), resolve)),
      ),
    );
  }

  private deliver(packet: AedesPublishPacket, cb: () => void): void {
    try {
      const topic = parseTopic(packet.topic);
      if (topic) this.route(topic.endpoint, topic.kind, packet.payload as Buffer);
    } catch (err) {
      if (err instanceof MessageDecodeError) {
        this.log.warn({ topic: packet.topic, reason: err.reason }, 'dropped a malformed message');
      } else {
        this.log.error({ err, topic: packet.topic }, 'handling a device message failed');
      }
    }
    cb();
  }

  private route(endpoint: string, kind: TopicKind, payload: Buffer): void {
    switch (kind) {
      case 'bs/req':
        return this.bootstrap(endpoint, payload);
      case 'register': {
        const m = decodeRegisterMessage(payload, this.limits);
        return this.handler.registered(endpoint, { ...m, transport: 'mqtt', address: this.sessions.get(endpoint)?.address ?? null });
      }
      case 'update':
        return this.handler.updated(endpoint, decodeUpdateMessage(payload, this.limits));
      case 'deregister':
        return this.handler.deregistered(endpoint, decodeDeregisterMessage(payload, this.limits).reason ?? 'deregistered');
      case 'res': {
        const m = decodeResponseMessage(payload, this.limits);
        this.handler.seen(endpoint);
        if (!this.pending.resolve(m.id, endpoint, m.result)) this.log.debug({ endpoint, id: m.id }, 'late or unknown response');
        return;
      }
      case 'notify':
        return this.handler.notified(endpoint, decodeNotifyMessage(payload, this.limits));
      case 'status': {
        const m = decodeStatusMessage(payload, this.limits);
        // The session itself is authoritative for presence; the will message matters to external brokers.
        this.log.debug({ endpoint, online: m.online, reason: m.reason }, 'device status message');
        return;
      }
      default:
        this.log.debug({ endpoint, kind }, 'ignored a gateway-bound topic');
    }
  }

  private bootstrap(endpoint: string, payload: Buffer): void {
    const request = decodeBootstrapRequest(payload, this.limits);
    let response;
    if (request.endpoint !== endpoint) {
      response = { requestId: request.requestId, code: ResultCode.BAD_REQUEST, message: 'endpoint does not match the topic', content: [] };
    } else {
      try {
        const grant = this.handler.bootstrap(endpoint, 'mqtt');
        response = { requestId: request.requestId, code: ResultCode.CHANGED, content: grant.content, ...(grant.firmwareTrustAnchor ? { firmwareTrustAnchor: grant.firmwareTrustAnchor } : {}) };
      } catch (err) {
        this.log.error({ err, endpoint }, 'bootstrap failed');
        response = { requestId: request.requestId, code: ResultCode.INTERNAL_SERVER_ERROR, message: 'bootstrap failed', content: [] };
      }
    }
    this.broker.publish(
      {
        cmd: 'publish',
        topic: topicFor(endpoint, 'bs/res'),
        payload: Buffer.from(encodeBootstrapResponse(response)),
        qos: 1,
        retain: false,
        dup: false,
      },
      (err) => {
        if (err) this.log.warn({ err, endpoint }, 'publishing the bootstrap response failed');
      },
    );
  }
}
