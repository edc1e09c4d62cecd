import type { FleetOptions } from '../fleet.js';

/** A worker's slice of the fleet: fleet options as plain data (sent with `serialization: 'advanced'`). */
export type WorkerFleetOptions = Omit<FleetOptions, 'log'>;

/** Parent → worker, once, right after the worker started. */
export interface WorkerStartMessage {
  type: 'start';
  worker: number;
  fleet: WorkerFleetOptions;
  logLevel: string;
}

/** Worker → parent. */
export type WorkerMessage =
  /** Every second while running: how many of its devices are registered now and were ever. */
  | { type: 'status'; worker: number; registered: number; everRegistered: number; total: number }
  /** The worker could not start its slice (e.g. too few open files); it exits after this. */
  | { type: 'failed'; worker: number; error: string };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'status' || type === 'failed';
}
