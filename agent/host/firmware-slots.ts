/**
 * A/B firmware slots, the part of the hardware boundary a firmware update writes through.
 * The running slot is never written; a new image goes to the inactive slot, boots once on
 * trial, and becomes permanent only when the agent confirms it. The bootloader (on any boot,
 * including after a power cut) falls back to the confirmed slot if a trial was not confirmed.
 */
export type SlotName = 'a' | 'b';

export interface RunningFirmware {
  slot: SlotName;
  version: string;
  /** Booted on trial: the update is not confirmed yet. */
  trial: boolean;
}

/** What the bootloader did at the last boot. */
export type BootOutcome = 'normal' | 'trial' | 'rolled-back';

export interface FirmwareSlots {
  running(): RunningFirmware;
  lastBoot(): BootOutcome;
  /** Bytes an image may have at most (the inactive slot's size). */
  capacityBytes(): number;
  /** Streams the image file into the inactive slot; a power cut mid-write leaves the running slot intact. */
  writeInactive(imageFile: string, version: string, sha256: string): Promise<void>;
  /** The next boot tries the inactive slot once. */
  armTrial(): void;
  /** Makes the trial slot the confirmed one. */
  confirm(): void;
  /** Gives up the trial: the next boot starts the confirmed slot. */
  abandonTrial(): void;
  /** The host's own self test of a trial boot (beyond the agent reaching its server). */
  selfTest(): Promise<boolean>;
  /** Whether the device's user (or policy) accepts installing now; 'defer' postpones it. */
  acceptUpdate(): 'accept' | 'defer';
}
