import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LinuxHost, parseMeminfo, parseOsRelease } from '../../agent/host/linux-host.js';
import { tempDir } from '../support/harness.js';

describe('Linux host adapter', () => {
  const dir = tempDir();
  after(() => dir.remove());
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(dir.path, path)), { recursive: true });
    writeFileSync(join(dir.path, path), text);
  };

  test('parses /proc/meminfo and /etc/os-release', () => {
    assert.deepEqual(parseMeminfo('MemTotal:        8000 kB\nMemAvailable:    2000 kB\nHugePages_Total: 0\n'), { MemTotal: 8000, MemAvailable: 2000 });
    assert.deepEqual(parseOsRelease('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n'), { ID: 'debian', VERSION_ID: '12', PRETTY_NAME: 'Debian GNU/Linux 12' });
  });

  test('reads a Raspberry Pi from a fake /proc and /sys', () => {
    put('/proc/device-tree/model', 'Raspberry Pi 4 Model B Rev 1.4\0');
    put('/proc/device-tree/serial-number', '10000000abcdef01\0');
    put('/etc/os-release', 'ID=raspbian\nVERSION_ID="12"\n');
    put('/proc/meminfo', 'MemTotal: 3884000 kB\nMemAvailable: 3000000 kB\n');
    put('/proc/net/route', 'Iface\tDestination\tGateway\tFlags\neth0\t00000000\t0101A8C0\t0003\neth0\t0001A8C0\t00000000\t0001\n');
    put('/sys/class/power_supply/BAT0/type', 'Battery');
    put('/sys/class/power_supply/BAT0/capacity', '10');
    put('/sys/class/power_supply/BAT0/status', 'Discharging');
    put('/sys/class/power_supply/BAT0/voltage_now', '3700000');
    const host = new LinuxHost({ agentVersion: '0.1.0', root: dir.path });
    const id = host.identity();
    assert.equal(id.manufacturer, 'Raspberry Pi Ltd');
    assert.equal(id.model, 'Raspberry Pi 4 Model B Rev 1.4');
    assert.equal(id.serialNumber, '10000000abcdef01');
    assert.equal(id.firmwareVersion, 'raspbian 12');
    assert.deepEqual(host.memory(), { totalKiB: 3884000, freeKiB: 3000000 });
    assert.deepEqual(host.network().routerAddresses, ['192.168.1.1']);
    const power = host.power();
    assert.equal(power.batteryLevel, 10);
    assert.equal(power.sources[0]!.voltageMv, 3700);
    assert.ok(host.errorCodes().includes(1), 'low battery raises error code 1');
  });

  test('on this machine it reports real, plausible values', () => {
    const host = new LinuxHost({ agentVersion: '0.1.0' });
    const mem = host.memory();
    assert.ok(mem.totalKiB > 0 && mem.freeKiB > 0 && mem.freeKiB <= mem.totalKiB);
    assert.ok(host.identity().serialNumber.length > 0);
  });
});
