import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Open-file budget of simulated devices. Each device holds one socket (an MQTT connection, or
 * the UDP socket of an LwM2M or CoAP client) and, now and then, a state file it is writing or a
 * firmware download (a second socket and a file): two descriptors a device, plus a margin for
 * the process itself (Node's own, the logger, the IPC channel).
 */
export const DESCRIPTORS_PER_DEVICE = 2;
export const DESCRIPTOR_MARGIN = 256;

export class OpenFilesError extends Error {}

export function descriptorsNeeded(devices: number): number {
  return devices * DESCRIPTORS_PER_DEVICE + DESCRIPTOR_MARGIN;
}

/** This process's open-file limits from /proc (Linux); undefined where there is no /proc. */
export function ownDescriptorLimits(): { soft: number; hard: number } | undefined {
  try {
    const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return undefined;
    return { soft: limitValue(line[1]!), hard: limitValue(line[2]!) };
  } catch {
    return undefined;
  }
}

/**
 * The hard limit a child started through `sh -c 'ulimit -n $(ulimit -Hn)'` gets as its soft
 * limit (Node has no setrlimit: the shell raises it before exec'ing node).
 */
export function shellHardLimit(): number {
  try {
    return limitValue(execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
  } catch {
    return ownDescriptorLimits()?.hard ?? Infinity;
  }
}

/** Throws a clear error when `devices` devices cannot fit under `limit` open files. */
export function checkDescriptorBudget(devices: number, limit: number, where: string, remedy: string): void {
  const needed = descriptorsNeeded(devices);
  if (needed <= limit) return;
  throw new OpenFilesError(
    `${where} would hold ${devices} simulated devices, which need about ${needed} open files ` +
      `(${DESCRIPTORS_PER_DEVICE} a device + ${DESCRIPTOR_MARGIN}), but its limit is ${limit}: ${remedy}`,
  );
}

function limitValue(text: string): number {
  return text === 'unlimited' ? Infinity : Number(text);
}
