import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileTarget,
  formatTarget,
  matchesTarget,
  parseTarget,
  TargetSyntaxError,
  type TargetableDevice,
} from '../../protocol/targets/index.js';

function device(overrides: Partial<TargetableDevice> = {}): TargetableDevice {
  return {
    endpoint: 'sim-0001',
    tags: ['north', 'pilot'],
    groups: ['plant-a'],
    transport: 'mqtt',
    status: 'online',
    firmwareVersion: '1.2.3',
    model: 'Pi 4',
    serialNumber: 'SN-000123',
    ...overrides,
  };
}

describe('parseTarget', () => {
  it('parses every key', () => {
    const expr = parseTarget('id:sim-1 tag:north group:plant-a transport:coap status:sleeping fw:1.2.3 model:X1 serial:SN-1');
    assert.deepEqual(expr.terms, [
      { key: 'id', values: ['sim-1'], negated: false },
      { key: 'tag', values: ['north'], negated: false },
      { key: 'group', values: ['plant-a'], negated: false },
      { key: 'transport', values: ['coap'], negated: false },
      { key: 'status', values: ['sleeping'], negated: false },
      { key: 'fw', values: ['1.2.3'], negated: false },
      { key: 'model', values: ['X1'], negated: false },
      { key: 'serial', values: ['SN-1'], negated: false },
    ]);
  });

  it('parses all, OR lists, negation and surrounding whitespace', () => {
    assert.deepEqual(parseTarget('all').terms, [{ key: 'all' }]);
    assert.deepEqual(parseTarget('  tag:a,b,c \t !status:offline,decommissioned  ').terms, [
      { key: 'tag', values: ['a', 'b', 'c'], negated: false },
      { key: 'status', values: ['offline', 'decommissioned'], negated: true },
    ]);
  });

  it('accepts quoted values with spaces, commas, quotes and backslashes', () => {
    assert.deepEqual(parseTarget('model:"Pi 4","a,b",plain,"say \\"hi\\"","C:\\dir","back\\\\slash"').terms, [
      { key: 'model', values: ['Pi 4', 'a,b', 'plain', 'say "hi"', 'C:\\dir', 'back\\slash'], negated: false },
    ]);
  });

  it('keeps colons and globs inside values', () => {
    assert.deepEqual(parseTarget('id:urn:imei:35*').terms, [{ key: 'id', values: ['urn:imei:35*'], negated: false }]);
  });

  it('accepts `all` next to other terms', () => {
    assert.deepEqual(parseTarget('all tag:x').terms, [{ key: 'all' }, { key: 'tag', values: ['x'], negated: false }]);
  });

  const errors: [string, number, RegExp][] = [
    ['', 0, /^empty target expression; use `all` for every device at 0$/],
    ['   ', 0, /^empty target expression/],
    ['colour:red', 0, /^unknown key "colour" at 0; expected one of id, tag, group, transport, status, fw, model, serial$/],
    ['tag:a colour:red', 6, /unknown key "colour" at 6/],
    ['!colour:red', 1, /unknown key "colour" at 1/],
    ['sim-001', 0, /^expected `all` or key:values, got "sim-001" at 0$/],
    ['tag', 3, /^missing values after "tag"; write tag:value at 3$/],
    [':x', 0, /^missing key before ":" at 0$/],
    ['!', 1, /^expected a term after "!" at 1$/],
    ['tag: x', 4, /^empty value for "tag" at 4$/],
    ['tag:a,,b', 6, /^empty value for "tag" at 6$/],
    ['tag:a,', 6, /^empty value for "tag" at 6$/],
    ['model:""', 6, /^empty value for "model" at 6$/],
    ['transport:http', 10, /^unknown transport "http" at 10; expected one of mqtt, coap, lwm2m$/],
    ['status:online,up', 14, /^unknown status "up" at 14; expected one of bootstrapping, online, sleeping, offline, decommissioned$/],
    ['status:*', 7, /unknown status "\*" at 7/],
    ['!all', 0, /^"all" cannot be negated at 0$/],
    ['all:x', 0, /^"all" takes no values at 0$/],
    ['model:"Pi 4', 6, /^unterminated quoted value at 6$/],
    ['model:"Pi"4', 10, /^unexpected "4" after a quoted value; separate terms with a space at 10$/],
    ['model:Pi"4"', 8, /^unexpected '"' inside a value; quote the whole value/],
  ];
  for (const [input, position, message] of errors) {
    it(`rejects ${JSON.stringify(input)} at ${position}`, () => {
      assert.throws(
        () => parseTarget(input),
        (e: unknown) => {
          assert.ok(e instanceof TargetSyntaxError, `not a TargetSyntaxError: ${String(e)}`);
          assert.equal(e.position, position);
          assert.equal(e.expression, input);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  it('rejects a non-string with a typed error', () => {
    assert.throws(() => parseTarget(undefined as unknown as string), TargetSyntaxError);
  });
});

describe('formatTarget', () => {
  const roundTrips = [
    'all',
    'id:sim-00* tag:north,south',
    '!status:offline,decommissioned transport:lwm2m',
    'model:"Pi 4","a,b" fw:1.2.*',
    'model:"say \\"hi\\"",back\\slash,C:\\dir',
    'model:"a \\\\ b"',
    'group:"tab\there"',
  ];
  for (const text of roundTrips) {
    it(`round-trips ${text}`, () => {
      const parsed = parseTarget(text);
      const formatted = formatTarget(parsed);
      assert.equal(formatted, text);
      assert.deepEqual(parseTarget(formatted), parsed);
    });
  }

  it('normalises whitespace and needless quotes', () => {
    assert.equal(formatTarget(parseTarget('  tag:"north"   !fw:"1.0"  ')), 'tag:north !fw:1.0');
    assert.equal(formatTarget(parseTarget('model:"back\\\\slash"')), 'model:back\\slash');
  });
});

describe('matchesTarget', () => {
  const d = device();

  it('matches each key', () => {
    assert.equal(matchesTarget(parseTarget('id:sim-0001'), d), true);
    assert.equal(matchesTarget(parseTarget('id:sim-0002'), d), false);
    assert.equal(matchesTarget(parseTarget('tag:pilot'), d), true);
    assert.equal(matchesTarget(parseTarget('tag:south'), d), false);
    assert.equal(matchesTarget(parseTarget('group:plant-a'), d), true);
    assert.equal(matchesTarget(parseTarget('group:plant-b'), d), false);
    assert.equal(matchesTarget(parseTarget('transport:mqtt'), d), true);
    assert.equal(matchesTarget(parseTarget('transport:coap'), d), false);
    assert.equal(matchesTarget(parseTarget('status:online'), d), true);
    assert.equal(matchesTarget(parseTarget('status:offline'), d), false);
    assert.equal(matchesTarget(parseTarget('fw:1.2.3'), d), true);
    assert.equal(matchesTarget(parseTarget('fw:1.2.4'), d), false);
    assert.equal(matchesTarget(parseTarget('model:"Pi 4"'), d), true);
    assert.equal(matchesTarget(parseTarget('model:Pi'), d), false);
    assert.equal(matchesTarget(parseTarget('serial:SN-000123'), d), true);
    assert.equal(matchesTarget(parseTarget('serial:*0123'), d), true);
    assert.equal(matchesTarget(parseTarget('serial:SN-000124'), d), false);
  });

  it('treats a value list as OR and terms as AND', () => {
    assert.equal(matchesTarget(parseTarget('status:offline,online'), d), true);
    assert.equal(matchesTarget(parseTarget('status:offline,sleeping'), d), false);
    assert.equal(matchesTarget(parseTarget('status:online tag:north'), d), true);
    assert.equal(matchesTarget(parseTarget('status:online tag:south'), d), false);
    assert.equal(matchesTarget(parseTarget('tag:north tag:pilot'), d), true, 'both tags present');
    assert.equal(matchesTarget(parseTarget('tag:north tag:south'), d), false);
  });

  it('negates a term', () => {
    assert.equal(matchesTarget(parseTarget('!status:offline'), d), true);
    assert.equal(matchesTarget(parseTarget('!status:offline,online'), d), false);
    assert.equal(matchesTarget(parseTarget('!tag:pilot'), d), false, 'any matching tag defeats the negation');
  });

  it('matches globs, anchored at both ends, with regex characters taken literally', () => {
    assert.equal(matchesTarget(parseTarget('id:sim-00*'), d), true);
    assert.equal(matchesTarget(parseTarget('id:*0001'), d), true);
    assert.equal(matchesTarget(parseTarget('id:*-*'), d), true);
    assert.equal(matchesTarget(parseTarget('id:sim'), d), false, 'no implicit prefix match');
    assert.equal(matchesTarget(parseTarget('id:im-*'), d), false, 'anchored at the start');
    assert.equal(matchesTarget(parseTarget('fw:1.2.*'), d), true);
    assert.equal(matchesTarget(parseTarget('fw:1.2.*'), device({ firmwareVersion: '1x2y3' })), false, '"." is literal');
    assert.equal(matchesTarget(parseTarget('fw:1.*.3'), device({ firmwareVersion: '1..3' })), true, '* may match nothing');
    assert.equal(matchesTarget(parseTarget('model:(a)+*'), device({ model: '(a)+ rev 2' })), true);
  });

  it('never matches a null field, so a negated term on it is true', () => {
    const bare = device({ firmwareVersion: null, model: null, serialNumber: null, transport: null, tags: [], groups: [] });
    assert.equal(matchesTarget(parseTarget('fw:*'), bare), false);
    assert.equal(matchesTarget(parseTarget('fw:*'), d), true, 'fw:* matches any known version');
    assert.equal(matchesTarget(parseTarget('!fw:*'), bare), true, '!fw:* selects devices without a version');
    assert.equal(matchesTarget(parseTarget('model:*'), bare), false);
    assert.equal(matchesTarget(parseTarget('serial:*'), bare), false);
    assert.equal(matchesTarget(parseTarget('transport:mqtt,coap,lwm2m'), bare), false);
    assert.equal(matchesTarget(parseTarget('tag:*'), bare), false);
    assert.equal(matchesTarget(parseTarget('!group:*'), bare), true);
  });

  it('is true for `all`, alone or combined', () => {
    assert.equal(matchesTarget(parseTarget('all'), d), true);
    assert.equal(matchesTarget(parseTarget('all status:offline'), d), false);
  });

  it('accepts a string and parses it', () => {
    assert.equal(matchesTarget('tag:north', d), true);
    assert.throws(() => matchesTarget('colour:red', d), TargetSyntaxError);
  });
});

describe('compileTarget', () => {
  it('filters a large fleet with one compiled predicate', () => {
    const fleet = Array.from({ length: 10_000 }, (_, i) =>
      device({
        endpoint: `sim-${String(i).padStart(5, '0')}`,
        status: i % 4 === 0 ? 'offline' : 'online',
        firmwareVersion: i % 10 === 0 ? null : `1.${i % 3}.0`,
      }),
    );
    const matches = compileTarget(parseTarget('id:sim-00* !status:offline fw:1.2.*'));
    const selected = fleet.filter(matches);
    const expected = fleet.filter((_, i) => i < 1000 && i % 4 !== 0 && i % 10 !== 0 && i % 3 === 2);
    assert.equal(selected.length, expected.length);
    assert.deepEqual(selected.map((x) => x.endpoint), expected.map((x) => x.endpoint));
    assert.ok(selected.length > 0);
  });
});
