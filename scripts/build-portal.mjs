// Builds the web portal (portal/) into dist/portal/ with Vite; the gateway serves it at /.
// Called by scripts/build.mjs (npm install, npm run build, npm start) and by the portal's e2e
// test. Without Vite (a production install: no devDependencies) it does nothing: dist/ ships
// prebuilt, and a gateway without dist/portal answers / with a page saying to build it.
//
//   node scripts/build-portal.mjs            build
//   node scripts/build-portal.mjs --if-stale build only when a source is newer than the build
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist/portal/index.html');

/** Newest modification time under the portal's inputs (its sources and the object definitions it bundles). */
function newestSource() {
  let newest = 0;
  const walk = (path) => {
    const s = statSync(path);
    if (s.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else newest = Math.max(newest, s.mtimeMs);
  };
  for (const p of ['portal', 'protocol/model/objects/definitions.generated.ts', 'protocol/model/objects/edgedm-objects.ts']) walk(join(root, p));
  return newest;
}

export function portalIsStale() {
  return !existsSync(built) || statSync(built).mtimeMs < newestSource();
}

export function buildPortal({ ifStale = false, quiet = false } = {}) {
  let vite;
  try {
    vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');
  } catch {
    if (!quiet) console.log('vite is not installed: the portal is not built (dist/portal ships prebuilt)');
    return false;
  }
  if (ifStale && !portalIsStale()) return false;
  execFileSync(process.execPath, [vite, 'build', '--config', join(root, 'portal/vite.config.mjs'), '--logLevel', quiet ? 'warn' : 'info'], {
    stdio: 'inherit',
    cwd: root,
  });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildPortal({ ifStale: process.argv.includes('--if-stale') });
}
