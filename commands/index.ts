/**
 * Registers every command group. Registration files only declare commands and options; each action
 * imports its implementation when it runs. Help groups and examples come from one registry (help.ts),
 * applied after every group is registered.
 */
import type { Command } from 'commander';
import { registerConfigCommands } from './config/index.js';
import { registerDbCommands } from './db/index.js';
import { registerUserCommands } from './user/index.js';
import { registerAuditCommand } from './audit/index.js';
import { registerStatsCommands } from './stats/index.js';
import { registerBackupCommands } from './backup/index.js';
import { registerCleanupCommands } from './cleanup/index.js';
import { registerKeysCommands } from './keys/index.js';
import { registerAlertsCommands } from './alerts/index.js';
import { registerHealthCommands } from './health/index.js';
import { registerPackageCommands } from './package/index.js';
import { registerModelsCommands } from './models/index.js';
import { registerLogsCommands } from './logs/index.js';
import { registerDaemonCommands } from './daemon/index.js';
import { registerDemoCommands } from './demo/index.js';
import { registerCategoryCommands } from './category/index.js';
import { registerSupportCommands } from './support/index.js';
import { registerCodesCommands } from './codes/index.js';
import { registerCompletionCommand } from './completion/index.js';
import { applyHelpRegistry } from './help.js';

export function registerCommands(program: Command): void {
  registerConfigCommands(program);
  registerDbCommands(program);
  registerUserCommands(program);
  registerAuditCommand(program);
  registerStatsCommands(program);
  registerBackupCommands(program);
  registerCleanupCommands(program);
  registerKeysCommands(program);
  registerAlertsCommands(program);
  registerHealthCommands(program);
  registerPackageCommands(program);
  registerModelsCommands(program);
  registerLogsCommands(program);
  registerDaemonCommands(program);
  registerDemoCommands(program);
  registerCategoryCommands(program);
  registerSupportCommands(program);
  registerCodesCommands(program);
  registerCompletionCommand(program);
  applyHelpRegistry(program);
}
