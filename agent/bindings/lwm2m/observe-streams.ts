import type { ObserveWriteStream } from 'coap';
import type { Logger } from '../../../common/logger.js';
import { isSuccess, type LwM2mPath } from '../../../protocol/model/index.js';
import type { Notification, ObservationManager } from '../../observation/observation-manager.js';
import { errorReply, sendNotification, type Reply } from './coap-reply.js';
import { contentReply, type MultipleValueFormat } from './dm-mapping.js';

interface Entry {
  id: string;
  path: LwM2mPath;
  accept: number | undefined;
  stream: ObserveWriteStream;
}

export interface ObserveStreamsOptions {
  observations: ObservationManager;
  log: Logger;
  /** A notification went out (a queue-mode client stays awake a while after it speaks). */
  sent(): void;
  /** Notifications kept while the client sleeps, oldest dropped first. */
  maxStored: number;
  /** The format of several values when the GET named none (dm-mapping `readFormat`). */
  multipleFormat?: MultipleValueFormat;
}

/**
 * Observe (RFC 7641) over the coap library's ObserveWriteStream: the agent's ObservationManager
 * decides when to notify, this carries each notification on the stream of the GET that asked for
 * it, in the format that GET's Accept chose. One stream per path, as the manager keeps one
 * observation per path; a stream that ends (the server sent Reset, a Confirmable notification
 * went unacknowledged) ends its observation.
 */
export class ObserveStreams {
  private readonly byId = new Map<string, Entry>();
  private readonly byPath = new Map<string, Entry>();
  private stored: Notification[] = [];
  private counter = 0;

  constructor(private readonly opts: ObserveStreamsOptions) {}

  get size(): number {
    return this.byId.size;
  }

  /** GET with Observe 0: answers on the stream (undefined) or with the reply to send once without Observe. */
  async observe(stream: ObserveWriteStream, path: LwM2mPath, accept: number | undefined): Promise<Reply | undefined> {
    const id = `lwm2m-${++this.counter}`;
    const result = await this.opts.observations.observe(id, path);
    if (!isSuccess(result.code)) return errorReply(result.code, result.message);
    // The manager replaced any earlier observation of the path: its stream goes too.
    const previous = this.byPath.get(path.toString());
    if (previous) this.detach(previous);
    const first = contentReply(result.code, accept, path, result.content ?? [], this.opts.multipleFormat);
    if (!isSuccess(first.code)) {
      this.opts.observations.cancel(path);
      return first;
    }
    const entry: Entry = { id, path, accept, stream };
    this.byId.set(id, entry);
    this.byPath.set(path.toString(), entry);
    const ended = () => this.ended(entry);
    stream.once('finish', ended);
    stream.once('close', ended);
    sendNotification(stream, first.contentFormat!, first.payload!);
    this.opts.sent();
    return undefined;
  }

  /** GET with Observe 1 (or a Reset): forgets the path's observation. */
  cancel(path: LwM2mPath): boolean {
    const entry = this.byPath.get(path.toString());
    if (entry) this.detach(entry);
    return this.opts.observations.cancel(path) || entry !== undefined;
  }

  /** Whether a notification belongs to an observation this binding carries. */
  has(notification: Notification): boolean {
    return this.byId.has(notification.observationId);
  }

  send(notification: Notification): void {
    const entry = this.byId.get(notification.observationId);
    if (!entry) return;
    const reply = contentReply('2.05', entry.accept, entry.path, notification.content, this.opts.multipleFormat);
    if (!isSuccess(reply.code)) {
      this.opts.log.warn({ path: entry.path.toString(), code: reply.code }, 'notification could not be encoded');
      return;
    }
    if (!sendNotification(entry.stream, reply.contentFormat!, reply.payload!)) {
      this.ended(entry);
      return;
    }
    this.opts.sent();
  }

  /** Keeps a notification for later (queue mode asleep, LwM2M 1.1 Core §6.5 and /1/x/6). */
  store(notification: Notification): void {
    this.stored.push(notification);
    if (this.stored.length > this.opts.maxStored) this.stored.splice(0, this.stored.length - this.opts.maxStored);
  }

  get storedCount(): number {
    return this.stored.length;
  }

  /** Sends what was stored, in order. */
  flush(): void {
    for (const notification of this.stored.splice(0)) this.send(notification);
  }

  /** Ends every observation (a new registration, a bootstrap, a stop): the server forgets them too. */
  closeAll(): void {
    for (const entry of [...this.byId.values()]) this.detach(entry);
    this.opts.observations.cancelAll();
    this.stored = [];
  }

  private detach(entry: Entry): void {
    this.byId.delete(entry.id);
    if (this.byPath.get(entry.path.toString()) === entry) this.byPath.delete(entry.path.toString());
    if (!entry.stream.writableEnded) entry.stream.end();
  }

  private ended(entry: Entry): void {
    if (this.byId.get(entry.id) !== entry) return;
    this.opts.log.debug({ path: entry.path.toString() }, 'observation ended by the server');
    this.byId.delete(entry.id);
    if (this.byPath.get(entry.path.toString()) === entry) {
      this.byPath.delete(entry.path.toString());
      this.opts.observations.cancel(entry.path);
    }
  }
}
