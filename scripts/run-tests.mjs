// node:test on Node 20 neither expands globs nor discovers .ts files: find them here.
// Usage: node scripts/run-tests.mjs [substring filters...]
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue; // interop peers keep their own
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...find(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = find(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// Files that load the machine on their own (a thousand agents, a fleet mid-rollout) say so with a
// `// test: run alone` line; they run after the others, one at a time, so two of them never share
// the 2 cores and time each other out.
const alone = (f) => /^\/\/ test: run alone/m.test(readFileSync(join(root, f), 'utf8'));
const groups = [
  { files: files.filter((f) => !alone(f)), concurrency },
  { files: files.filter(alone), concurrency: '1' },
].filter((g) => g.files.length > 0);
let status = 0;
for (const group of groups) {
  const result = spawnSync(
    process.execPath,
    // A file whose tests are done exits even if a handle leaked, and no test waits forever: a hang
    // fails the run (with the test named) instead of holding CI until its time limit.
    ['--import', 'tsx', '--test', `--test-concurrency=${group.concurrency}`, '--test-reporter=spec', '--test-force-exit', '--test-timeout=600000', ...group.files],
    { stdio: 'inherit', cwd: root, env: { ...process.env, EDGEDM_LOG_LEVEL: process.env.EDGEDM_LOG_LEVEL ?? 'silent' } },
  );
  if ((result.status ?? 1) !== 0) status = result.status ?? 1;
}
process.exit(status);
