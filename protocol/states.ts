/**
 * The state vocabulary shared by agent, gateway, API and CLI: device statuses, command
 * states and transport kinds. One list each, so a value means the same thing everywhere
 * (the target grammar, the store and the REST schemas all take their allowed values from here).
 */

/**
 * Lifecycle of a device as the gateway sees it. `sleeping` is an LwM2M queue-mode device
 * that is registered but not currently reachable; `offline` has missed its lifetime.
 */
export const DEVICE_STATUSES = ['bootstrapping', 'online', 'sleeping', 'offline', 'decommissioned'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export const COMMAND_STATES = ['queued', 'sent', 'succeeded', 'failed', 'expired', 'cancelled'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

export const TERMINAL_COMMAND_STATES = ['succeeded', 'failed', 'expired', 'cancelled'] as const;
export type TerminalCommandState = (typeof TERMINAL_COMMAND_STATES)[number];

/** The states that end a command without success: they must say why. */
export type UnsuccessfulCommandState = Exclude<TerminalCommandState, 'succeeded'>;

/** A command's state; a command that failed, expired or was cancelled always carries a reason. */
export type CommandStatus =
  | { state: Exclude<CommandState, UnsuccessfulCommandState>; reason?: string }
  | { state: UnsuccessfulCommandState; reason: string };

export const TRANSPORTS = ['mqtt', 'coap', 'lwm2m'] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

const deviceStatuses: ReadonlySet<string> = new Set(DEVICE_STATUSES);
const commandStates: ReadonlySet<string> = new Set(COMMAND_STATES);
const terminalCommandStates: ReadonlySet<string> = new Set(TERMINAL_COMMAND_STATES);
const transports: ReadonlySet<string> = new Set(TRANSPORTS);

export function isDeviceStatus(s: string): s is DeviceStatus {
  return deviceStatuses.has(s);
}

export function isCommandState(s: string): s is CommandState {
  return commandStates.has(s);
}

export function isTransportKind(s: string): s is TransportKind {
  return transports.has(s);
}

export function isTerminalCommandState(s: CommandState): s is TerminalCommandState {
  return terminalCommandStates.has(s);
}

/**
 * Allowed command transitions. `sent → queued` re-queues a command whose connection was lost
 * before an answer came back; terminal states go nowhere.
 */
const COMMAND_TRANSITIONS: Readonly<Record<CommandState, readonly CommandState[]>> = {
  queued: ['sent', 'cancelled', 'expired', 'failed'],
  sent: ['succeeded', 'failed', 'expired', 'cancelled', 'queued'],
  succeeded: [],
  failed: [],
  expired: [],
  cancelled: [],
};

export function canTransitionCommand(from: CommandState, to: CommandState): boolean {
  return COMMAND_TRANSITIONS[from].includes(to);
}
