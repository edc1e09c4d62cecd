import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chosen, describeFaults, FAULTS, faultHelp, FaultProfileError, faultsFor, parseFaultProfile, POWER_LOSS_STEPS, type FaultProfile } from '../../simulators/faults.js';

/** Indexes (0-based) of the devices of a fleet of `count` for which `pick` holds. */
function picked(count: number, pick: (index: number) => boolean): number[] {
  return Array.from({ length: count }, (_, i) => i).filter(pick);
}

describe('fault profile grammar', () => {
  test('name=P% terms, a term without a share meaning every device', () => {
    assert.deepEqual(parseFaultProfile('health-fail=10%, defer=5%'), [
      { fault: 'health-fail', share: 0.1 },
      { fault: 'defer', share: 0.05 },
    ]);
    assert.deepEqual(parseFaultProfile('defer'), [{ fault: 'defer', share: 1 }]);
    assert.deepEqual(parseFaultProfile(''), []);
    assert.deepEqual(parseFaultProfile('health-fail=0%'), [{ fault: 'health-fail', share: 0 }]);
    assert.deepEqual(parseFaultProfile('health-fail=12.5%'), [{ fault: 'health-fail', share: 0.125 }]);
  });

  test('power-loss takes the step it strikes at; every step of the update can be named', () => {
    assert.deepEqual(parseFaultProfile('power-loss@downloading=10%,power-loss@updating=5%'), [
      { fault: 'power-loss', step: 'downloading', share: 0.1 },
      { fault: 'power-loss', step: 'updating', share: 0.05 },
    ]);
    for (const step of Object.keys(POWER_LOSS_STEPS)) {
      assert.deepEqual(parseFaultProfile(`power-loss@${step}`), [{ fault: 'power-loss', step, share: 1 }]);
    }
    assert.deepEqual(Object.keys(POWER_LOSS_STEPS), ['downloading', 'downloaded', 'updating', 'trial']);
  });

  test('slow-link takes a speed in KiB/s and drop-link the time between drops, both with defaults', () => {
    assert.deepEqual(parseFaultProfile('slow-link@2kbps=20%,drop-link@500ms=10%'), [
      { fault: 'slow-link', bytesPerSecond: 2048, share: 0.2 },
      { fault: 'drop-link', everyMs: 500, share: 0.1 },
    ]);
    assert.deepEqual(parseFaultProfile('slow-link@0.5kbps'), [{ fault: 'slow-link', bytesPerSecond: 512, share: 1 }]);
    assert.deepEqual(parseFaultProfile('drop-link@30s'), [{ fault: 'drop-link', everyMs: 30_000, share: 1 }]);
    const [slow] = parseFaultProfile('slow-link=20%');
    const [drop] = parseFaultProfile('drop-link=20%');
    assert.ok(slow!.bytesPerSecond! > 0);
    assert.ok(drop!.everyMs! > 0);
  });

  test('bad profiles are refused with a message that says what is wrong', () => {
    const refused: [string, RegExp][] = [
      ['brownout=10%', /unknown fault "brownout".*power-loss/],
      ['power-loss=10%', /power-loss needs the step.*downloading\|downloaded\|updating\|trial/],
      ['power-loss@installing=10%', /power-loss needs the step/],
      ['health-fail@updating=10%', /health-fail takes no @parameter/],
      ['defer@5s', /defer takes no @parameter/],
      ['slow-link@fast', /slow-link takes a speed in KiB\/s/],
      ['slow-link@0kbps', /slow-link takes a speed/],
      ['slow-link@4', /slow-link takes a speed/],
      ['drop-link@10', /drop-link takes the time between drops/],
      ['drop-link@0s', /drop-link takes the time between drops/],
      ['health-fail=150%', /above 100 %/],
      ['health-fail=10', /bad fault term/],
      ['health-fail=-1%', /bad fault term/],
      ['health-fail=10%,health-fail=5%', /given twice/],
      ['power-loss@trial=10%,power-loss@trial=5%', /power-loss@trial is given twice/],
    ];
    for (const [text, message] of refused) {
      assert.throws(() => parseFaultProfile(text), (err: unknown) => err instanceof FaultProfileError && message.test(err.message), text);
    }
    // The same fault at different steps is not a repeat.
    assert.equal(parseFaultProfile('power-loss@trial=10%,power-loss@updating=10%').length, 2);
  });

  test('--help text names every fault and every power-loss step', () => {
    const help = faultHelp();
    for (const name of [...Object.keys(FAULTS), ...Object.keys(POWER_LOSS_STEPS)]) assert.match(help, new RegExp(`\\b${name}\\b`));
  });
});

describe('fault device selection', () => {
  test('a share picks devices evenly by index: every 10th for 10 %, exactly its share of any ten in a row', () => {
    const profile = parseFaultProfile('health-fail=10%');
    const failing = picked(100, (i) => faultsFor(profile, i).healthFail);
    assert.deepEqual(failing, [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
    for (let start = 0; start + 10 <= 100; start++) {
      assert.equal(failing.filter((i) => i >= start && i < start + 10).length, 1, `devices ${start}..${start + 9}`);
    }
  });

  test('shares that are not exact in binary floating point still pick exactly their count', () => {
    for (const pct of [29, 7, 33, 57, 0.5]) {
      const profile = parseFaultProfile(`defer=${pct}%`);
      assert.equal(picked(1000, (i) => faultsFor(profile, i).defer).length, Math.floor(pct * 10), `${pct} % of 1000`);
    }
    assert.equal(picked(100, (i) => chosen(i, 0)).length, 0);
    assert.equal(picked(100, (i) => chosen(i, 1)).length, 100);
  });

  test('terms of the same share pick different devices; a single term picks as it always did', () => {
    const profile = parseFaultProfile('power-loss@downloading=10%,power-loss@updating=10%,power-loss@trial=10%');
    const at = (step: string) => picked(40, (i) => faultsFor(profile, i).powerLoss.includes(step as never));
    assert.deepEqual(at('downloading'), [9, 19, 29, 39]);
    assert.deepEqual(at('updating'), [8, 18, 28, 38]);
    assert.deepEqual(at('trial'), [7, 17, 27, 37]);
    for (let i = 0; i < 40; i++) assert.ok(faultsFor(profile, i).powerLoss.length <= 1, `device ${i} has one power loss at most`);
    // 50 % + 50 %: the two terms share the fleet between them.
    const halves = parseFaultProfile('drop-link@1s=50%,slow-link@1kbps=50%');
    for (let i = 0; i < 20; i++) {
      const f = faultsFor(halves, i);
      assert.notEqual(f.dropLinkEveryMs !== undefined, f.slowLinkBytesPerSecond !== undefined, `device ${i} has exactly one of the two`);
    }
  });

  test('a summary says how many devices each term picks', () => {
    assert.equal(
      describeFaults(parseFaultProfile('power-loss@updating=5%,slow-link@2kbps=20%,drop-link@30s=10%,defer'), 100),
      'power-loss@updating on 5 of 100, slow-link@2kbps on 20 of 100, drop-link@30000ms on 10 of 100, defer on 100 of 100',
    );
  });

  test('a device gets every parameter of its terms', () => {
    const profile: FaultProfile = parseFaultProfile('health-fail,defer,power-loss@downloaded,slow-link@3kbps,drop-link@2s');
    assert.deepEqual(faultsFor(profile, 0), { healthFail: true, defer: true, powerLoss: ['downloaded'], slowLinkBytesPerSecond: 3072, dropLinkEveryMs: 2000 });
    assert.deepEqual(faultsFor([], 0), { healthFail: false, defer: false, powerLoss: [] });
  });
});
