import type { Logger } from '../../common/logger.js';
import { deriveBootstrapPsk } from '../../protocol/bootstrap-psk.js';
import { ResultCode } from '../../protocol/model/index.js';
import { defaultObjectRegistry, ObjectId, SecurityResource } from '../../protocol/model/objects/index.js';
import type { StateStore } from '../state/state-store.js';
import { OperationError } from './instance.js';
import { PersistedObject } from './persisted-object.js';
import { StoredInstance } from './stored-instance.js';

/** The factory identity: what the device knows before bootstrap. */
export interface FactoryIdentity {
  endpoint: string;
  secret: string;
  bootstrapServerUri: string;
}

/** A server account as a binding needs it to connect. */
export interface ServerAccount {
  serverUri: string;
  identity: string;
  secret: string;
  shortServerId: number | undefined;
}

const BOOTSTRAP_INSTANCE_ID = 0;
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: unknown) => (b instanceof Uint8Array ? Buffer.from(b).toString('utf8') : undefined);

/**
 * Object 0, LwM2M Security: the bootstrap account (from the factory identity, never stored)
 * and the DM server accounts the bootstrap server wrote (stored, 0600). Hidden from DM servers.
 */
export class SecurityObject extends PersistedObject<StoredInstance> {
  constructor(state: StateStore, factory: FactoryIdentity, log: Logger) {
    const definition = defaultObjectRegistry.get(ObjectId.SECURITY)!;
    const make = (id: number) =>
      new StoredInstance(definition, id, {
        [SecurityResource.LWM2M_SERVER_URI]: (v) => {
          if (typeof v !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i.test(v)) throw new OperationError(ResultCode.BAD_REQUEST, 'server URI must be an absolute URI');
        },
      });
    super(definition, state, make, log, { hiddenFromServer: true, transient: (i) => i.id === BOOTSTRAP_INSTANCE_ID });
    const bootstrap = make(BOOTSTRAP_INSTANCE_ID);
    bootstrap.set(SecurityResource.LWM2M_SERVER_URI, factory.bootstrapServerUri);
    bootstrap.set(SecurityResource.BOOTSTRAP_SERVER, true);
    bootstrap.set(SecurityResource.SECURITY_MODE, 0);
    bootstrap.set(SecurityResource.PUBLIC_KEY_OR_IDENTITY, utf8(factory.endpoint));
    bootstrap.set(SecurityResource.SERVER_PUBLIC_KEY, new Uint8Array(0));
    // Over DTLS (coaps://) the LwM2M bootstrap account's key is derived from the factory secret
    // (the gateway derives the same); elsewhere it is the secret, which the MQTT factory login presents.
    bootstrap.set(SecurityResource.SECRET_KEY, /^coaps:/i.test(factory.bootstrapServerUri) ? new Uint8Array(deriveBootstrapPsk(factory.secret)) : utf8(factory.secret));
    this.instances.delete(BOOTSTRAP_INSTANCE_ID);
    this.add(bootstrap);
  }

  bootstrapAccount(): ServerAccount {
    return this.accountOf(this.instances.get(BOOTSTRAP_INSTANCE_ID) as StoredInstance)!;
  }

  /** The first complete DM server account, or undefined before bootstrap. */
  dmServerAccount(): ServerAccount | undefined {
    for (const instance of this.instancesOf()) {
      if (instance.get(SecurityResource.BOOTSTRAP_SERVER) === true) continue;
      const account = this.accountOf(instance);
      if (account) return account;
    }
    return undefined;
  }

  private accountOf(instance: StoredInstance): ServerAccount | undefined {
    const serverUri = instance.get<string>(SecurityResource.LWM2M_SERVER_URI);
    const identity = text(instance.get(SecurityResource.PUBLIC_KEY_OR_IDENTITY));
    const secret = text(instance.get(SecurityResource.SECRET_KEY));
    if (!serverUri || !identity || !secret) return undefined;
    const ssid = instance.get(SecurityResource.SHORT_SERVER_ID);
    return { serverUri, identity, secret, shortServerId: typeof ssid === 'number' ? ssid : undefined };
  }
}
