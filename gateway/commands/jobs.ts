import type { CommandStep } from './command-spec.js';

/**
 * Built-in jobs: named sequences of model operations, so a job travels over every transport
 * exactly like an operation does and needs nothing new on the device.
 */
export const JOB_NAMES = ['reboot', 'factory-reset', 'diagnostics'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** How many Event Log lines a diagnostics result keeps: the recent history, not the whole log. */
export const DIAGNOSTICS_LOG_LINES = 20;

const JOBS: Readonly<Record<JobName, readonly CommandStep[]>> = {
  // Device object (3): Reboot (4) and Factory Reset (5).
  reboot: [{ kind: 'execute', path: '/3/0/4' }],
  'factory-reset': [{ kind: 'execute', path: '/3/0/5' }],
  // Device, Connectivity Monitoring (4) and Event Log (20). A device without Objects 4 or 20
  // still gives its Device object: those two steps are optional.
  diagnostics: [
    { kind: 'read', path: '/3/0' },
    { kind: 'read', path: '/4/0', optional: true },
    { kind: 'read', path: '/20', optional: true, recentLogLines: DIAGNOSTICS_LOG_LINES },
  ],
};

export function jobSteps(job: JobName): CommandStep[] {
  return JOBS[job].map((step) => ({ ...step }));
}
