import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dealProfiles, describeProfiles, parseProfiles, ProfilePlanError } from '../../simulators/profiles.js';

describe('device profiles', () => {
  test('parses terms with periods in s or ms, shares, and the defaults', () => {
    assert.deepEqual(parseProfiles('sleeping@60s=20%,flaky@45s=10%,slow@250ms=5%'), [
      { profile: 'sleeping', periodMs: 60_000, share: 0.2 },
      { profile: 'flaky', periodMs: 45_000, share: 0.1 },
      { profile: 'slow', periodMs: 250, share: 0.05 },
    ]);
    assert.deepEqual(parseProfiles('slow=50%'), [{ profile: 'slow', periodMs: 2000, share: 0.5 }]);
    assert.deepEqual(parseProfiles('sleeping'), [{ profile: 'sleeping', periodMs: 60_000, share: 1 }]);
  });

  test('refuses unknown profiles, bad periods, repeated terms, always-on terms and shares over 100 %', () => {
    for (const bad of ['dozing=5%', 'sleeping@60=5%', 'sleeping@0s', 'slow=5%,slow=5%', 'always-on=50%', 'sleeping=60%,flaky=50%', 'flaky@x']) {
      assert.throws(() => parseProfiles(bad), ProfilePlanError, bad);
    }
  });

  test('deals out exactly the shares on 100 devices, the rest always-on, each device one profile', () => {
    const dealt = dealProfiles(parseProfiles('sleeping@60s=20%,flaky@45s=10%,slow@2s=5%'), 100);
    const count = (name: string) => dealt.filter((d) => d.profile === name).length;
    assert.equal(count('sleeping'), 20);
    assert.equal(count('flaky'), 10);
    assert.equal(count('slow'), 5);
    assert.equal(count('always-on'), 65);
    assert.deepEqual(dealt.find((d) => d.profile === 'flaky'), { profile: 'flaky', periodMs: 45_000 });
  });

  test('spreads each profile evenly over the fleet and deals the same way every time', () => {
    const plan = parseProfiles('sleeping@60s=20%');
    const dealt = dealProfiles(plan, 10_000);
    // Every window of 5 consecutive devices holds exactly one sleeper.
    for (let i = 0; i + 5 <= dealt.length; i += 5) assert.equal(dealt.slice(i, i + 5).filter((d) => d.profile === 'sleeping').length, 1);
    assert.deepEqual(dealProfiles(plan, 10_000), dealt);
  });

  test('shares hold within one device on fleets that are not multiples of 100, and a whole-fleet term takes every device', () => {
    const dealt = dealProfiles(parseProfiles('sleeping=20%,flaky=10%'), 37);
    const sleeping = dealt.filter((d) => d.profile === 'sleeping').length;
    const flaky = dealt.filter((d) => d.profile === 'flaky').length;
    assert.ok(Math.abs(sleeping - 37 * 0.2) <= 1, `${sleeping} sleepers of 37`);
    assert.ok(Math.abs(flaky - 37 * 0.1) <= 1, `${flaky} flaky of 37`);
    assert.ok(dealProfiles(parseProfiles('slow@1s'), 12).every((d) => d.profile === 'slow'));
    assert.ok(dealProfiles([], 12).every((d) => d.profile === 'always-on'));
  });

  test('describes the deal', () => {
    assert.equal(describeProfiles(parseProfiles('sleeping@60s=20%,slow@2s=5%'), 100), 'sleeping@60000ms on 20, slow@2000ms on 5, always-on on 75 of 100');
  });
});
