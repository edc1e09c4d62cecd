import type { ObserveWriteStream, OutgoingMessage } from 'coap';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import type { Logger } from '../../../common/logger.js';
import { isSuccess, ResultCode, type Operation } from '../../../protocol/model/index.js';
import type { AgentObjects } from '../../objects/index.js';
import { dropRequest, errorReply, isObserveStream, requestView, sendReply, type Reply } from './coap-reply.js';
import { operationOf, resultReply, type MultipleValueFormat } from './dm-mapping.js';
import type { ObserveStreams } from './observe-streams.js';

export interface DmRequestsOptions {
  objects: AgentObjects;
  streams: ObserveStreams;
  log: Logger;
  /** Whether the binding has stopped: requests then get no answer at all. */
  closed(): boolean;
  /** An answer went out (a queue-mode client stays awake a while after it speaks). */
  answered(): void;
  /** A Create or Delete succeeded: the object list the server knows is out of date. */
  objectsChanged(): void;
  /** The format of several values when a read names none (TLV for LwM2M, SenML for plain CoAP). */
  multipleFormat?: MultipleValueFormat;
}

type Response = OutgoingMessage | ObserveWriteStream;

/**
 * Device-management requests on the object tree, as LwM2M and plain CoAP both serve them: the
 * same methods on the same /O/I/R paths (dm-mapping.ts), Observe on the request's stream
 * (observe-streams.ts), answers block-wise when large (coap-reply.ts).
 *
 * A request is performed once (RFC 7252 §4.5): the coap library answers a duplicate from its
 * response cache once the answer has gone out, and a duplicate that arrives while the first
 * copy is still being performed (an Execute that takes a while) is dropped here; the peer's
 * next retransmission then meets the cached answer.
 */
export class DmRequests {
  private readonly inFlight = new Set<string>();

  constructor(private readonly opts: DmRequestsOptions) {}

  /** Device Management & Information Reporting (LwM2M 1.1 Core §6.3, §6.4; the same over plain CoAP). */
  serve(req: CoapRequest, res: Response): Promise<void> {
    return this.answer(req, res, async () => {
      const mapped = operationOf(requestView(req), { nextInstanceId: (id) => this.opts.objects.tree.object(id)?.nextInstanceId() });
      if ('reply' in mapped) return mapped.reply;
      return this.perform(mapped.operation, mapped.accept, res);
    });
  }

  /** Sends what `produce` answers (undefined: it answered on an observe stream itself); an exception is 5.00. */
  async answer(req: CoapRequest, res: Response, produce: () => Promise<Reply | undefined>): Promise<void> {
    const key = exchangeKey(req);
    if (key !== undefined && this.inFlight.has(key)) {
      this.opts.log.debug({ peer: `${req.peer.address}:${req.peer.port}`, method: req.method, path: req.path.join('/') }, 'duplicate of a request in progress dropped');
      return dropRequest(res);
    }
    if (key !== undefined) this.inFlight.add(key);
    try {
      let reply: Reply | undefined;
      try {
        reply = await produce();
      } catch (err) {
        this.opts.log.error({ err }, 'device management request failed');
        reply = errorReply(ResultCode.INTERNAL_SERVER_ERROR, 'internal error');
      }
      if (this.opts.closed()) return dropRequest(res);
      if (reply) sendReply(res, reply, req.option('Block2'));
      this.opts.answered();
    } finally {
      if (key !== undefined) this.inFlight.delete(key);
    }
  }

  private async perform(op: Operation, accept: number | undefined, res: Response): Promise<Reply | undefined> {
    const { tree } = this.opts.objects;
    const multiple = this.opts.multipleFormat;
    switch (op.kind) {
      case 'observe':
        if (isObserveStream(res)) return this.opts.streams.observe(res, op.path, accept);
        return resultReply({ kind: 'read', path: op.path }, await tree.handle({ kind: 'read', path: op.path }, 'server'), accept, multiple);
      case 'cancel-observe': {
        // RFC 7641 §3.6: a GET with Observe 1 ends the observation and is answered as a GET.
        this.opts.streams.cancel(op.path);
        const read: Operation = { kind: 'read', path: op.path };
        return resultReply(read, await tree.handle(read, 'server'), accept, multiple);
      }
      default: {
        const result = await tree.handle(op, 'server');
        if ((op.kind === 'create' || op.kind === 'delete') && isSuccess(result.code)) setImmediate(() => this.opts.objectsChanged());
        return resultReply(op, result, accept, multiple);
      }
    }
  }
}

/** Peer and message id: what makes two datagrams copies of one message (RFC 7252 §4.5). */
function exchangeKey(req: CoapRequest): string | undefined {
  const messageId = req.raw._packet?.messageId;
  return messageId === undefined ? undefined : `${req.peer.address}|${req.peer.port}|${messageId}`;
}
