import type { Logger } from '../../common/logger.js';
import { ResultCode } from '../../protocol/model/index.js';
import { defaultObjectRegistry, ObjectId, ServerResource } from '../../protocol/model/objects/index.js';
import type { StateStore } from '../state/state-store.js';
import { OperationError, type ResourceContent } from './instance.js';
import { PersistedObject } from './persisted-object.js';
import { StoredInstance } from './stored-instance.js';

export interface ServerActions {
  registrationUpdate(): void;
  disable(seconds: number): void;
  bootstrapRequest(): void;
}

/** Default Disable Timeout (/1/x/5), LwM2M 1.1 §E.2. */
const DEFAULT_DISABLE_TIMEOUT_S = 86400;

function positiveInteger(name: string, min = 1) {
  return (v: ResourceContent) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new OperationError(ResultCode.BAD_REQUEST, `${name} must be a whole number of at least ${min}`);
  };
}

/** One LwM2M Server account (Object 1 instance): settings plus the server-triggered actions. */
export class ServerInstance extends StoredInstance {
  constructor(id: number, actions: ServerActions) {
    super(defaultObjectRegistry.get(ObjectId.SERVER)!, id, {
      [ServerResource.LIFETIME]: (v) => {
        positiveInteger('lifetime', 1)(v);
        // The new lifetime takes effect with a Registration Update (LwM2M 1.1 §6.2.2), after the write is answered.
        setImmediate(() => actions.registrationUpdate());
      },
      [ServerResource.DEFAULT_MINIMUM_PERIOD]: positiveInteger('default minimum period', 0),
      [ServerResource.DEFAULT_MAXIMUM_PERIOD]: positiveInteger('default maximum period', 1),
      [ServerResource.DISABLE_TIMEOUT]: positiveInteger('disable timeout', 0),
      [ServerResource.BINDING]: (v) => {
        if (typeof v !== 'string' || !/^[UMSNT]+Q?$/.test(v)) throw new OperationError(ResultCode.BAD_REQUEST, 'binding must be LwM2M binding letters, e.g. "M" or "U"');
      },
    });
    this.executable(ServerResource.DISABLE, () => {
      const timeout = this.get<number>(ServerResource.DISABLE_TIMEOUT) ?? DEFAULT_DISABLE_TIMEOUT_S;
      setImmediate(() => actions.disable(timeout));
    });
    this.executable(ServerResource.REGISTRATION_UPDATE_TRIGGER, () => {
      setImmediate(() => actions.registrationUpdate());
    });
    this.executable(ServerResource.BOOTSTRAP_REQUEST_TRIGGER, () => {
      setImmediate(() => actions.bootstrapRequest());
    });
  }
}

/** Object 1, LwM2M Server: the DM server accounts written at bootstrap. */
export class ServerObject extends PersistedObject<ServerInstance> {
  constructor(state: StateStore, actions: ServerActions, log: Logger) {
    super(defaultObjectRegistry.get(ObjectId.SERVER)!, state, (id) => new ServerInstance(id, actions), log);
  }
}
