import {
  LwM2mPath,
  fromJsonValue,
  type JsonRecord,
  type NotificationAttributes,
  type Operation,
} from '../../protocol/model/index.js';
import { JOB_NAMES, jobSteps, type JobName } from './jobs.js';

/** Model operations a fleet command may carry (discover, create and delete are per-device work, not fleet work). */
export const FLEET_OPERATIONS = ['read', 'write', 'execute', 'observe', 'write-attributes'] as const;
export type FleetOperation = (typeof FLEET_OPERATIONS)[number];

/** What a fleet command does on each device: one model operation, or a built-in job. */
export const FLEET_ACTIONS = [...FLEET_OPERATIONS, ...JOB_NAMES] as const;
export type FleetAction = FleetOperation | JobName;

/**
 * One model operation in its stored (JSON) form: commands live in SQL and must come back
 * identical after a restart, so nothing here is a class instance.
 */
export interface CommandStep {
  kind: FleetOperation;
  path: string;
  mode?: 'replace' | 'update';
  content?: JsonRecord[];
  args?: string;
  attributes?: NotificationAttributes;
  /** A failure of this step is recorded but does not fail the device (diagnostics: objects a device may lack). */
  optional?: boolean;
  /** Event Log reads keep only this many of the most recent log lines in the result. */
  recentLogLines?: number;
}

export interface CommandSpec {
  action: FleetAction;
  /** The path the operator named; null for jobs. */
  path: string | null;
  steps: CommandStep[];
}

export class CommandSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandSpecError';
  }
}

/** What the API hands over; write content is already typed by the object registry. */
export interface CommandInput {
  action: string;
  path?: string;
  content?: JsonRecord[];
  mode?: 'replace' | 'update';
  args?: string;
  attributes?: NotificationAttributes;
}

export function isFleetAction(s: string): s is FleetAction {
  return (FLEET_ACTIONS as readonly string[]).includes(s);
}

/** Checks an operator's command and turns it into the steps every device runs. Throws CommandSpecError. */
export function buildCommandSpec(input: CommandInput): CommandSpec {
  const { action } = input;
  if (!isFleetAction(action)) throw new CommandSpecError(`unknown operation "${action}"; use one of ${FLEET_ACTIONS.join(', ')}`);
  if ((JOB_NAMES as readonly string[]).includes(action)) {
    if (input.path !== undefined) throw new CommandSpecError(`the ${action} job takes no path`);
    return { action, path: null, steps: jobSteps(action as JobName) };
  }
  const kind = action as FleetOperation;
  if (input.path === undefined) throw new CommandSpecError(`${kind} needs a path, e.g. /3/0/9`);
  const path = LwM2mPath.parse(input.path);
  const step: CommandStep = { kind, path: path.toString() };
  switch (kind) {
    case 'write':
      if (!input.content || input.content.length === 0) throw new CommandSpecError('write needs a value');
      step.content = input.content;
      step.mode = input.mode ?? 'replace';
      break;
    case 'execute':
      if (!path.isResource()) throw new CommandSpecError('execute takes a resource path, e.g. /3/0/4');
      if (input.args !== undefined) step.args = input.args;
      break;
    case 'write-attributes':
      if (!input.attributes || Object.keys(input.attributes).length === 0) throw new CommandSpecError('write-attributes needs at least one attribute (pmin, pmax, gt, lt, st)');
      step.attributes = input.attributes;
      break;
    default:
      break;
  }
  if (kind !== 'write' && input.content !== undefined) throw new CommandSpecError(`${kind} takes no value`);
  toOperation(step); // a step that cannot become an operation is refused now, not on 1,000 devices later
  return { action: kind, path: step.path, steps: [step] };
}

/** The model operation of a stored step. */
export function toOperation(step: CommandStep): Operation {
  const path = LwM2mPath.parse(step.path);
  switch (step.kind) {
    case 'read':
      return { kind: 'read', path };
    case 'observe':
      return { kind: 'observe', path };
    case 'execute':
      return step.args !== undefined ? { kind: 'execute', path, args: step.args } : { kind: 'execute', path };
    case 'write':
      return {
        kind: 'write',
        path,
        mode: step.mode ?? 'replace',
        content: (step.content ?? []).map((r) => ({ path: LwM2mPath.parse(r.path), type: r.type, value: fromJsonValue(r.type, r.value) })),
      };
    case 'write-attributes':
      return { kind: 'write-attributes', path, attributes: step.attributes ?? {} };
  }
}
