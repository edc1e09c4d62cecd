// Compiles the runtime code into dist/ and marks the CLI executable.
// Runs on `npm install` (prepare) and before `npm start`, so a fresh clone needs no extra step.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPortal } from './build-portal.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // Installed as a dependency of something else (no devDependencies): dist/ ships prebuilt.
  if (existsSync(join(root, 'dist/cli/main.js'))) process.exit(0);
  console.error('typescript is not installed; run `npm install` in the edgedm checkout first');
  process.exit(1);
}
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
chmodSync(join(root, 'dist/cli/main.js'), 0o755);
// The web portal (portal/ → dist/portal/) when Vite is installed; a production install skips it.
buildPortal({ quiet: true });
