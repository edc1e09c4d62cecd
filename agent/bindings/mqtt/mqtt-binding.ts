import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { backoffDelay, sleep } from '../../../common/backoff.js';
import type { Logger } from '../../../common/logger.js';
import { ResultCode, type Operation, type OperationResult } from '../../../protocol/model/index.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MessageDecodeError,
  decodeBootstrapResponse,
  decodeRequestMessage,
  encodeBootstrapRequest,
  encodeDeregisterMessage,
  encodeNotifyMessage,
  encodeRegisterMessage,
  encodeResponseMessage,
  encodeStatusMessage,
  encodeUpdateMessage,
} from '../../../protocol/mqtt/codec.js';
import type { BootstrapResponse } from '../../../protocol/mqtt/messages.js';
import { topicFor } from '../../../protocol/mqtt/topics.js';
import { applyBootstrapWrite, bootstrapDeleteAll } from '../../objects/bootstrap.js';
import type { Radio } from '../../host/host-adapter.js';
import type { AgentObjects } from '../../objects/index.js';
import type { RecentRequests } from '../../state/recent-requests.js';
import type { Notification, ObservationManager } from '../../observation/observation-manager.js';
import type { AgentBinding, BindingEvents } from '../binding.js';
import { ConnectionRefusedError, connectOnce } from './connect.js';

export interface MqttBindingOptions {
  endpoint: string;
  /** New at every boot of the agent: reported at each registration, with the observations kept. */
  bootId: string;
  objects: AgentObjects;
  observations: ObservationManager;
  keepaliveSeconds: number;
  reconnect: { minDelayMs: number; maxDelayMs: number };
  events: BindingEvents;
  log: Logger;
  connectTimeoutMs?: number;
  bootstrapTimeoutMs?: number;
  /** The device's radio, when its host has one: connections go through it. */
  radio?: Radio;
  /** CA certificates (PEM) trusted for mqtts:// servers, besides the system's. */
  tlsCa?: string;
  maxMessageBytes?: number;
  /** Answers by request id: a request sent again with the same id is answered, not executed twice. */
  recentRequests?: RecentRequests;
}

const LWM2M_VERSION = '1.1';

/**
 * The agent's side of the DM-over-MQTT binding: bootstrap with the factory identity when it
 * holds no DM server account, then register with the operational one and serve requests from
 * the object tree. One loop owns every (re)connection, so there is never more than one session.
 */
export class MqttBinding implements AgentBinding {
  private client: MqttClient | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private isRegistered = false;
  /**
   * The server account (URI and identity) the observations in force were made under: they are
   * kept across reconnections to it, and reported at each registration so that the server does
   * not set them up again. Another account, or a bootstrap, ends them.
   */
  private observationsAccount: string | undefined;
  private readonly maxMessageBytes: number;

  constructor(private readonly opts: MqttBindingOptions) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  get registered(): boolean {
    return this.isRegistered;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopping.abort();
    const client = this.client;
    if (client?.connected && graceful && this.isRegistered) {
      await untilClosed(client, this.publish(client, topicFor(this.opts.endpoint, 'deregister'), encodeDeregisterMessage({ reason: 'shutdown' })));
    }
    // force=true drops the TCP connection at once: what a power cut looks like to the broker.
    if (client) await endConnection(client, !graceful);
    await this.loop;
  }

  registrationUpdate(): void {
    const client = this.client;
    if (!client?.connected || !this.isRegistered) return;
    const update = { lifetime: this.lifetime(), objectLinks: this.opts.objects.tree.objectLinks() };
    void this.publish(client, topicFor(this.opts.endpoint, 'update'), encodeUpdateMessage(update)).catch((err) =>
      this.opts.log.warn({ err: String(err) }, 'registration update failed'),
    );
  }

  notify(notification: Notification): boolean {
    const client = this.client;
    // Not registered: the observation keeps the value for the next registration (resume below).
    if (!client?.connected || !this.isRegistered) return false;
    void this.publishBounded(client, topicFor(this.opts.endpoint, 'notify'), encodeNotifyMessage(notification)).catch((err) =>
      this.opts.log.debug({ err: String(err) }, 'notification not sent'),
    );
    return true;
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      try {
        const account = this.opts.objects.security.dmServerAccount();
        if (!account) {
          await this.bootstrap();
          attempt = 0;
          continue;
        }
        await this.session(account);
        // Not 0: attempt 0 waits exactly minDelayMs, so a fleet cut at once (a gateway restart)
        // would come back in lockstep; from 1 on the wait is jittered over [min, 2·min].
        attempt = 1;
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        if (err instanceof ConnectionRefusedError && this.opts.objects.security.dmServerAccount()) {
          // The DM server no longer accepts our credential (revoked, or the gateway lost it): bootstrap again.
          log.warn({ code: err.returnCode }, 'operational credential refused; returning to bootstrap');
          this.opts.objects.eventLog.record({ class: 1, severity: 'warning', message: 'operational credential refused' });
          await bootstrapDeleteAll(this.opts.objects);
        } else {
          log.info({ err: err instanceof Error ? err.message : String(err), attempt }, 'connection attempt failed');
        }
      }
      if (this.stopping.signal.aborted) break;
      await sleep(backoffDelay(attempt++, this.opts.reconnect.minDelayMs, this.opts.reconnect.maxDelayMs), this.stopping.signal);
    }
  }

  /** TLS settings for mqtts:// (unused on mqtt://): the extra CA, and never an unverified server. */
  private tls(): { ca?: string; rejectUnauthorized: true } {
    return { ...(this.opts.tlsCa ? { ca: this.opts.tlsCa } : {}), rejectUnauthorized: true };
  }

  private async bootstrap(): Promise<void> {
    const { endpoint, log, objects } = this.opts;
    const account = objects.security.bootstrapAccount();
    log.info({ server: account.serverUri }, 'bootstrapping with the factory identity');
    const client = await connectOnce(
      account.serverUri,
      { clientId: endpoint, username: account.identity, password: account.secret, clean: true, keepalive: this.opts.keepaliveSeconds, ...this.tls() },
      this.opts.connectTimeoutMs ?? 10_000,
      this.opts.radio,
    );
    this.client = client;
    try {
      const requestId = randomUUID();
      const response = await new Promise<BootstrapResponse>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no bootstrap response')), this.opts.bootstrapTimeoutMs ?? 30_000);
        client.on('message', (_topic, payload) => {
          try {
            const r = decodeBootstrapResponse(payload);
            if (r.requestId !== requestId) return;
            clearTimeout(timer);
            resolve(r);
          } catch (err) {
            log.warn({ reason: err instanceof MessageDecodeError ? err.reason : String(err) }, 'dropped a malformed bootstrap response');
          }
        });
        client.on('close', () => reject(new Error('connection closed during bootstrap')));
        client
          .subscribeAsync(topicFor(endpoint, 'bs/res'), { qos: 1 })
          .then(() => this.publish(client, topicFor(endpoint, 'bs/req'), encodeBootstrapRequest({ requestId, endpoint })))
          .catch(reject);
      });
      if (response.code !== ResultCode.CHANGED) throw new Error(`bootstrap refused: ${response.code} ${response.message ?? ''}`.trim());
      await bootstrapDeleteAll(objects);
      const written = await applyBootstrapWrite(objects, response.content);
      if (written.code !== ResultCode.CHANGED) throw new Error(`bootstrap write failed: ${written.code} ${written.message ?? ''}`.trim());
      if (!objects.security.dmServerAccount()) throw new Error('bootstrap gave no DM server account');
      // A new account: nothing observed under the old one carries over.
      this.opts.observations.cancelAll();
      this.observationsAccount = undefined;
      objects.setFirmwareTrustAnchor(response.firmwareTrustAnchor);
      objects.eventLog.record({ class: 1, severity: 'info', message: 'bootstrap finished' });
      log.info('bootstrap finished');
      this.opts.events.bootstrapped();
    } finally {
      await endConnection(client, false);
      this.client = undefined;
    }
  }

  /** One operational session; resolves when it ends. */
  private async session(account: { serverUri: string; identity: string; secret: string }): Promise<void> {
    const { endpoint, log, objects } = this.opts;
    const client = await connectOnce(
      account.serverUri,
      {
        clientId: endpoint,
        username: account.identity,
        password: account.secret,
        clean: true,
        keepalive: this.opts.keepaliveSeconds,
        will: { topic: topicFor(endpoint, 'status'), payload: Buffer.from(encodeStatusMessage({ online: false, reason: 'connection lost' })), qos: 1, retain: false },
        ...this.tls(),
      },
      this.opts.connectTimeoutMs ?? 10_000,
      this.opts.radio,
    );
    this.client = client;
    const closed = new Promise<string>((resolve) => client.once('close', () => resolve('connection closed')));
    client.on('error', (err) => log.debug({ err: err.message }, 'mqtt client error'));
    client.on('message', (_topic, payload) => void this.serve(client, payload));
    try {
      // A link lost before the server answers ends the session (mqtt.js, without its own
      // reconnect, would keep a QoS 1 message waiting for an acknowledgement for ever).
      const answered = <T>(work: Promise<T>) => Promise.race([work, closed.then((reason) => Promise.reject(new Error(`${reason} before the server answered`)))]);
      await answered(client.subscribeAsync(topicFor(endpoint, 'req'), { qos: 1 }));
      const accountKey = `${account.serverUri} ${account.identity}`;
      if (this.observationsAccount !== accountKey) {
        this.opts.observations.cancelAll();
        this.observationsAccount = accountKey;
      }
      const register = {
        lwm2mVersion: LWM2M_VERSION,
        lifetime: this.lifetime(),
        binding: 'M',
        queueMode: false,
        objectLinks: objects.tree.objectLinks(),
        // What the server need not set up again: kept across reconnections, none after a boot.
        session: { bootId: this.opts.bootId, observations: this.opts.observations.held() },
      };
      await answered(this.publish(client, topicFor(endpoint, 'register'), encodeRegisterMessage(register)));
      this.isRegistered = true;
      log.info({ server: account.serverUri, observations: register.session.observations.length }, 'registered');
      // What changed while the link was down goes out now.
      this.opts.observations.resume();
      this.opts.events.registered();
      const reason = await closed;
      if (!this.stopping.signal.aborted) this.opts.events.disconnected(reason);
    } finally {
      this.isRegistered = false;
      this.client = undefined;
      // The observations stay: the next session to the same server reports them and goes on.
      client.end(true);
    }
  }

  private async serve(client: MqttClient, payload: Buffer): Promise<void> {
    let request;
    try {
      request = decodeRequestMessage(payload);
    } catch (err) {
      this.opts.log.warn({ reason: err instanceof MessageDecodeError ? err.reason : String(err) }, 'dropped a malformed request');
      return;
    }
    const perform = async (): Promise<OperationResult> => {
      try {
        return await this.perform(request.id, request.operation);
      } catch (err) {
        this.opts.log.error({ err, op: request.operation.kind }, 'request failed');
        return { code: ResultCode.INTERNAL_SERVER_ERROR, message: 'internal error' };
      }
    };
    let result: OperationResult;
    if (this.opts.recentRequests) {
      const answer = await this.opts.recentRequests.answer(request.id, request.operation, perform);
      result = answer.result;
      if (answer.repeated) this.opts.log.info({ id: request.id, op: request.operation.kind, path: request.operation.path.toString() }, 'answered a repeated request from memory without executing it again');
    } else {
      result = await perform();
    }
    await this.publishBounded(client, topicFor(this.opts.endpoint, 'res'), encodeResponseMessage({ id: request.id, result }), () =>
      encodeResponseMessage({ id: request.id, result: { code: ResultCode.REQUEST_ENTITY_TOO_LARGE, message: 'response exceeds the message size limit' } }),
    ).catch((err) => this.opts.log.debug({ err: String(err) }, 'response not sent'));
  }

  private perform(id: string, operation: Operation): Promise<OperationResult> {
    const { observations } = this.opts;
    const { tree } = this.opts.objects;
    switch (operation.kind) {
      case 'observe':
        return observations.observe(id, operation.path);
      case 'cancel-observe':
        return Promise.resolve(
          observations.cancel(operation.path) ? { code: ResultCode.CONTENT } : { code: ResultCode.NOT_FOUND, message: 'no such observation' },
        );
      default:
        return tree.handle(operation, 'server');
    }
  }

  /** Publishes, replacing a message the broker would refuse for its size with the `tooLarge` fallback. */
  private publishBounded(client: MqttClient, topic: string, payload: Uint8Array, tooLarge?: () => Uint8Array): Promise<void> {
    if (payload.length > this.maxMessageBytes) {
      if (!tooLarge) return Promise.reject(new Error(`message of ${payload.length} bytes exceeds ${this.maxMessageBytes}`));
      payload = tooLarge();
    }
    return this.publish(client, topic, payload);
  }

  private async publish(client: MqttClient, topic: string, payload: Uint8Array): Promise<void> {
    await client.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 });
  }

  private lifetime(): number {
    const server = this.opts.objects.servers()[0];
    const value = server?.read(1);
    return typeof value === 'number' ? value : 300;
  }
}

/**
 * Ends the client's connection. A graceful end waits for the messages in flight to be
 * acknowledged, which a link lost meanwhile never does: the connection's close ends the wait
 * too, and a connection already gone is just released.
 */
async function endConnection(client: MqttClient, force: boolean): Promise<void> {
  if (client.stream.destroyed) {
    client.end(true);
    return;
  }
  await untilClosed(client, new Promise<void>((resolve) => client.end(force, {}, () => resolve())));
}

/** Resolves when `work` settles or the connection closes, whichever comes first. */
function untilClosed(client: MqttClient, work: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      client.off('close', done);
      resolve();
    };
    client.once('close', done);
    work.then(done, done);
  });
}
