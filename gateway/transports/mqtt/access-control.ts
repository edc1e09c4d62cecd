import type { AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from '../../../common/logger.js';
import { isValidEndpointName } from '../../../protocol/endpoint.js';
import { mayPublish, maySubscribe } from '../../../protocol/mqtt/topics.js';
import type { DeviceSessionHandler } from '../../device-link.js';
import type { ConnectRateLimit } from './connect-rate-limit.js';
import type { SessionTable } from './sessions.js';

// aedes' AuthErrorCode is a const enum, which isolatedModules cannot import: use the MQTT 3.1.1 codes.
const BAD_USERNAME_OR_PASSWORD = 4;
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The broker's policy hooks (aedes' authenticate / authorizePublish / authorizeSubscribe):
 * the client id must be the authenticated endpoint, and a device reaches only its own topics,
 * its factory identity only its bootstrap topics. Secrets never reach a log line.
 */
export function createAccessControl(opts: {
  sessions: SessionTable;
  handler: DeviceSessionHandler;
  maxMessageBytes: number;
  /** New connections over the rate get CONNACK 3 before their credentials are looked at. */
  connectRate?: ConnectRateLimit;
  log: Logger;
}) {
  const { sessions, handler, maxMessageBytes, log, connectRate } = opts;

  function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    if (connectRate && !connectRate.admit()) return done(authError('server busy: connection rate limit', SERVER_UNAVAILABLE), false);
    const endpoint = username ?? '';
    if (!isValidEndpointName(endpoint) || !password) {
      log.warn({ clientId: client.id }, 'mqtt connect refused: missing or malformed credentials');
      return done(authError('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
    }
    // Checked before the secret so that A claiming B's client id never disturbs B's session.
    if (client.id !== endpoint) {
      log.warn({ endpoint, clientId: client.id }, 'mqtt connect refused: client id does not match the authenticated endpoint');
      return done(authError('client id must equal the endpoint name', IDENTIFIER_REJECTED), false);
    }
    let role;
    try {
      role = handler.authenticate(endpoint, password.toString('utf8'));
    } catch (err) {
      log.error({ err, endpoint }, 'mqtt authentication failed internally');
      return done(authError('authentication unavailable', BAD_USERNAME_OR_PASSWORD), false);
    }
    if (!role) {
      log.warn({ endpoint }, 'mqtt connect refused: wrong credentials');
      return done(authError('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
    }
    sessions.authenticated(client, endpoint, role);
    done(null, true);
  }

  function authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    if (!client) return callback(null); // the gateway's own publications
    const identity = sessions.identityOf(client);
    if (!identity || !mayPublish(identity.role, identity.endpoint, packet.topic)) {
      log.warn({ endpoint: identity?.endpoint, topic: packet.topic }, 'mqtt publish refused: outside the device topics');
      return callback(new Error('publish not authorized'));
    }
    const size = packet.payload?.length ?? 0;
    if (size > maxMessageBytes) {
      log.warn({ endpoint: identity.endpoint, topic: packet.topic, size, maxMessageBytes }, 'mqtt publish refused: oversized message');
      return callback(new Error('message too large'));
    }
    if (packet.retain) {
      log.warn({ endpoint: identity.endpoint, topic: packet.topic }, 'mqtt publish refused: devices may not retain messages');
      return callback(new Error('retain not allowed'));
    }
    callback(null);
  }

  function authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const identity = sessions.identityOf(client);
    if (!identity || !maySubscribe(identity.role, identity.endpoint, subscription.topic)) {
      log.warn({ endpoint: identity?.endpoint, topic: subscription.topic }, 'mqtt subscribe refused: outside the device topics');
      // A null subscription makes aedes answer SUBACK 0x80 (failure) and keep the connection.
      return callback(null, null);
    }
    callback(null, subscription);
  }

  return { authenticate, authorizePublish, authorizeSubscribe };
}
