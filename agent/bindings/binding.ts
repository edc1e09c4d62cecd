import type { Notification } from '../observation/observation-manager.js';

/**
 * What the agent runtime needs of a transport binding (MQTT now; CoAP and LwM2M later):
 * run the bootstrap/registration life cycle, serve the server's requests from the object tree,
 * and carry notifications out.
 */
export interface AgentBinding {
  start(): void;
  /** graceful: deregister first (shutdown, reboot); otherwise just drop the link (power loss). */
  stop(graceful: boolean): Promise<void>;
  registrationUpdate(): void;
  /** false: not sent for lack of a connection (the observation sends the value again later). */
  notify(notification: Notification): boolean;
  readonly registered: boolean;
}

export interface BindingEvents {
  bootstrapped(): void;
  registered(): void;
  disconnected(reason: string): void;
}
