import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  canTransitionCommand,
  COMMAND_STATES,
  DEVICE_STATUSES,
  isCommandState,
  isDeviceStatus,
  isTerminalCommandState,
  isTransportKind,
  TERMINAL_COMMAND_STATES,
  TRANSPORTS,
  type CommandState,
  type CommandStatus,
} from '../../protocol/states.js';

describe('state vocabulary', () => {
  it('recognises exactly its own values', () => {
    for (const s of DEVICE_STATUSES) assert.equal(isDeviceStatus(s), true);
    for (const s of COMMAND_STATES) assert.equal(isCommandState(s), true);
    for (const s of TRANSPORTS) assert.equal(isTransportKind(s), true);
    for (const s of ['', 'Online', 'connected', 'queued']) assert.equal(isDeviceStatus(s), false, s);
    for (const s of ['', 'Queued', 'done', 'online']) assert.equal(isCommandState(s), false, s);
    for (const s of ['', 'MQTT', 'http', 'coaps']) assert.equal(isTransportKind(s), false, s);
  });

  it('ends commands in succeeded, failed, expired and cancelled', () => {
    assert.deepEqual([...TERMINAL_COMMAND_STATES].sort(), ['cancelled', 'expired', 'failed', 'succeeded']);
    assert.deepEqual(COMMAND_STATES.filter(isTerminalCommandState), ['succeeded', 'failed', 'expired', 'cancelled']);
  });

  it('requires a reason for unsuccessful terminal states (type level)', () => {
    const ok: CommandStatus[] = [{ state: 'queued' }, { state: 'succeeded' }, { state: 'failed', reason: 'device said 4.04 Not Found' }];
    // @ts-expect-error a failed command must say why
    const missing: CommandStatus = { state: 'failed' };
    assert.equal(ok.length, 3);
    assert.equal(missing.state, 'failed');
  });
});

describe('canTransitionCommand', () => {
  const allowed: Record<CommandState, CommandState[]> = {
    queued: ['sent', 'cancelled', 'expired', 'failed'],
    sent: ['succeeded', 'failed', 'expired', 'cancelled', 'queued'],
    succeeded: [],
    failed: [],
    expired: [],
    cancelled: [],
  };

  for (const from of COMMAND_STATES) {
    it(`from ${from} allows exactly ${allowed[from].join(', ') || 'nothing'}`, () => {
      const reachable = COMMAND_STATES.filter((to) => canTransitionCommand(from, to));
      assert.deepEqual([...reachable].sort(), [...allowed[from]].sort());
    });
  }

  it('never stays in place', () => {
    for (const s of COMMAND_STATES) assert.equal(canTransitionCommand(s, s), false, s);
  });
});
