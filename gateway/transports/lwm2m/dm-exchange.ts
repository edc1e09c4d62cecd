import { CoapTimeoutError, type CoapClient, type CoapPeerAddress, type CoapResponse, type Observation } from '../../../common/coap/coap-client.js';
import type { Logger } from '../../../common/logger.js';
import { ResultCode, type Operation, type OperationResult } from '../../../protocol/model/index.js';
import { DeviceLinkError, type DeviceSessionHandler, type SendOptions } from '../../device-link.js';
import { decodeRecords, requestOf, resultOf, type ClientProfile } from './operation-mapping.js';

/** A registered device as the exchange sees it: where it is, what it speaks, what is observed. */
export interface DmTarget {
  /** The registration's id: observation ids start with it. */
  id: string;
  endpoint: string;
  peer: CoapPeerAddress;
  /** The client that reaches the device (the endpoint it registered through); default the exchange's own. */
  client?: CoapClient;
  profile: ClientProfile;
  /** Established observations by path; the exchange adds and removes them. */
  observations: Map<string, Observation>;
  /** Whether this is still the device's registration (notifications of an old one are dropped). */
  current(): boolean;
  /** The device answered something: it is alive. */
  answered(): void;
}

export interface DmExchangeOptions {
  client: CoapClient;
  handler: DeviceSessionHandler;
  log: Logger;
}

/**
 * One model operation as CoAP request and answer (operation-mapping.ts), observations included:
 * what the LwM2M server and the plain CoAP device link both do once they know where a device is.
 */
export class DmExchange {
  constructor(private readonly opts: DmExchangeOptions) {}

  /** A DeviceLink's `send`: the exchange, its failures as DeviceLinkErrors; `timeoutMs` is what is left of the caller's. */
  async send(target: DmTarget, operation: Operation, options: SendOptions, timeoutMs = options.timeoutMs): Promise<OperationResult> {
    try {
      return await this.exchange(target, operation, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (err) {
      throw linkErrorOf(err, target.endpoint, options);
    }
  }

  async exchange(target: DmTarget, operation: Operation, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<OperationResult> {
    const profile = target.profile;
    const spec = requestOf(operation, profile);
    const key = operation.path.toString();
    if (operation.kind === 'observe') {
      const observationId = `${target.id}:${key}`;
      const previous = target.observations.get(key);
      let sequence = 0;
      const observation = await (target.client ?? this.opts.client).observe(target.peer, spec, opts, (notification) => this.notification(target, operation, observationId, ++sequence, notification));
      target.answered();
      if (observation.established) {
        target.observations.set(key, observation);
        if (previous) void previous.cancel();
      }
      this.opts.log.debug({ endpoint: target.endpoint, path: key, established: observation.established }, 'observation requested');
      return resultOf(operation, observation.response, profile);
    }
    if (operation.kind === 'cancel-observe') {
      const observation = target.observations.get(key);
      if (!observation) return { code: ResultCode.NOT_FOUND, message: 'no such observation' };
      target.observations.delete(key);
      const answer = await observation.cancel(opts);
      target.answered();
      return answer && answer.success ? { code: ResultCode.CONTENT } : { code: ResultCode.CONTENT, message: 'observation forgotten; the client did not confirm' };
    }
    const response = await (target.client ?? this.opts.client).request(target.peer, spec, opts);
    target.answered();
    return resultOf(operation, response, profile);
  }

  /** Forgets every observation of a registration that ends (the device hears of it by Reset). */
  static forgetObservations(target: Pick<DmTarget, 'observations'>): void {
    for (const obs of target.observations.values()) void obs.cancel();
    target.observations.clear();
  }

  private notification(target: DmTarget, operation: Operation, observationId: string, sequence: number, response: CoapResponse): void {
    if (!target.current()) return;
    target.answered();
    if (!response.success || response.option('Observe') === undefined) {
      target.observations.delete(operation.path.toString());
      this.opts.log.info({ endpoint: target.endpoint, path: operation.path.toString(), code: response.code }, 'the client ended an observation');
      if (!response.success) return;
    }
    try {
      const content = decodeRecords(operation.path, response);
      this.opts.handler.notified(target.endpoint, { observationId, path: operation.path, sequence, content });
    } catch (err) {
      this.opts.log.warn({ endpoint: target.endpoint, path: operation.path.toString(), reason: (err as Error).message }, 'dropped a notification that could not be decoded');
    }
  }
}

/** What a failed exchange means to the fleet layer: a timeout, a cancellation, or an unreachable device. */
export function linkErrorOf(err: unknown, endpoint: string, options: SendOptions): DeviceLinkError {
  if (err instanceof DeviceLinkError) return err;
  if (err instanceof CoapTimeoutError) return new DeviceLinkError('timeout', endpoint, `${endpoint} did not answer within ${options.timeoutMs} ms`);
  if (options.signal?.aborted) return new DeviceLinkError('cancelled', endpoint, 'request cancelled');
  return new DeviceLinkError('unreachable', endpoint, `${endpoint}: ${(err as Error).message}`);
}
