// Installs the independent peers the interoperability tests run (test/interop/*/package.json),
// each in its own folder so their old dependency trees stay out of edgedm's. Skips a peer whose
// install is current. Runs before `npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const interop = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'interop');
for (const name of existsSync(interop) ? readdirSync(interop) : []) {
  const dir = join(interop, name);
  const lock = join(dir, 'package-lock.json');
  if (!statSync(dir).isDirectory() || !existsSync(lock)) continue;
  const installed = join(dir, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) continue;
  console.log(`installing interop peer ${name}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`installing interop peer ${name} failed`);
    process.exit(r.status ?? 1);
  }
}
