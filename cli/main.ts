#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EDGEDM_VERSION } from '../common/version.js';
import { CliError } from './api-client.js';
import { registerDeviceCommands } from './commands/devices.js';
import { registerOperationCommands } from './commands/operations.js';
import { registerRunCommands } from './commands/run.js';
import { registerFirmwareCommands } from './commands/firmware.js';
import { registerRolloutCommands } from './commands/rollouts.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerGroupCommands } from './commands/groups.js';
import { registerAlarmCommands } from './commands/alarms.js';
import { registerAccountingCommands } from './commands/accounting.js';
import { registerOperatorCommands } from './commands/operators.js';

const program = new Command('edgedm')
  .description('Y.4702 device management: gateway, agent, simulated fleets and the operator CLI')
  // `edgedm --version` is handled below, not by commander: a program option would also swallow
  // the `--version` of `firmware add`.
  .addHelpText('after', '\n  -V, --version  print the edgedm version (before any command)')
  .option('--api <url>', 'gateway REST API (default: $EDGEDM_API or http://127.0.0.1:8080)')
  .option('--ca <file>', 'trust this certificate (PEM) for an HTTPS API (default: $EDGEDM_CA, or the one saved at login)')
  .option('--json', 'machine-readable output')
  .showHelpAfterError()
  .exitOverride();

registerRunCommands(program);
registerDeviceCommands(program);
registerOperationCommands(program);
registerFirmwareCommands(program);
registerRolloutCommands(program);
registerFleetCommands(program);
registerGroupCommands(program);
registerAlarmCommands(program);
registerAccountingCommands(program);
registerOperatorCommands(program);

try {
  if (process.argv[2] === '-V' || process.argv[2] === '--version') {
    process.stdout.write(`${EDGEDM_VERSION}\n`);
    process.exit(0);
  }
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
}
