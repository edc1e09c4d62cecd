/**
 * `npm run bench`: every scenario in bench/*.ts, one after the other, each in its own process
 * with its default flags (dist/ is built first by the npm script). Stops at the first failure.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, '..');
const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort();
for (const scenario of scenarios) {
  process.stdout.write(`\n=== bench/${scenario} ===\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(dir, scenario)], { stdio: 'inherit', cwd: join(dir, '..') });
  if (result.status !== 0) {
    process.stderr.write(`bench/${scenario} failed (${result.status ?? result.signal})\n`);
    process.exit(result.status ?? 1);
  }
}
