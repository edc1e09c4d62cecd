import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatFactoryCsv, parseFactoryCsv } from '../../gateway/fleet/factory-import.js';

const SECRET = 'abcdefghijklmnopqrstuvwxyz012345';

describe('factory CSV', () => {
  test('parses columns in any order, with labels split on ";"', () => {
    const r = parseFactoryCsv(`secret,endpoint,groups,tags,model\n${SECRET},dev-1,north,roof;sensor,EDM-1\n"${SECRET}",dev-2,,,\n`);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rows, [
      { endpoint: 'dev-1', secret: SECRET, model: 'EDM-1', tags: ['roof', 'sensor'], groups: ['north'] },
      { endpoint: 'dev-2', secret: SECRET, tags: [], groups: [] },
    ]);
  });

  test('round-trips what formatFactoryCsv writes', () => {
    const rows = [{ endpoint: 'a', secret: SECRET, model: 'M, "quoted"', tags: ['x'], groups: ['g1', 'g2'] }];
    assert.deepEqual(parseFactoryCsv(formatFactoryCsv(rows)).rows, rows);
  });

  test('reports every bad line, imports nothing, and never echoes a secret', () => {
    const shortSecret = 'Zq9tiny';
    const csv = [
      'endpoint,secret,tags',
      `good,${SECRET},`,
      `bad name,${SECRET},`,
      `short,${shortSecret},`,
      `good,${SECRET},`,
      `labels,${SECRET},"no spaces"`,
      `fields,${SECRET}`,
    ].join('\n');
    const r = parseFactoryCsv(csv);
    assert.deepEqual(r.rows, []);
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [3, 4, 5, 6, 7],
    );
    assert.match(r.errors[0]!.message, /invalid endpoint name/);
    assert.match(r.errors[1]!.message, /secret of "short" must be 16-512 characters/);
    assert.match(r.errors[2]!.message, /already appears on line 2/);
    for (const e of r.errors) {
      assert.doesNotMatch(e.message, new RegExp(shortSecret));
      assert.doesNotMatch(e.message, new RegExp(SECRET));
    }
  });

  test('header problems and broken quoting', () => {
    assert.match(parseFactoryCsv('endpoint,password\n').errors[0]!.message, /unknown column\(s\) password/);
    assert.match(parseFactoryCsv('endpoint\n').errors[0]!.message, /no "secret" column/);
    assert.match(parseFactoryCsv('').errors[0]!.message, /empty/);
    const broken = parseFactoryCsv(`endpoint,secret\na,"${SECRET}\n`);
    assert.equal(broken.errors.length, 1);
    assert.doesNotMatch(broken.errors[0]!.message, new RegExp(SECRET));
  });
});
