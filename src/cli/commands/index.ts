import type { CommandSpec } from '../command.js';

type Loader = () => Promise<{ default: CommandSpec }>;

/**
 * Command name -> the file that declares it. Only the command being run is loaded,
 * so start-up does not pay for the others (esbuild splits each into its own chunk).
 * Sub-commands are written 'parent child'.
 */
export const COMMANDS: Record<string, Loader> = {
  init: () => import('./init.js'),
  'task submit': () => import('./task-submit.js'),
  'task start': () => import('./task-start.js'),
  'task done': () => import('./task-done.js'),
  'task fail': () => import('./task-fail.js'),
  'task list': () => import('./task-list.js'),
  'task show': () => import('./task-show.js'),
  'task dispatch': () => import('./task-dispatch.js'),
  scale: () => import('./scale.js'),
  demo: () => import('./demo.js'),
  'demo bot': () => import('./demo-bot.js'),
  health: () => import('./health.js'),
  'health record': () => import('./health-record.js'),
  'health history': () => import('./health-history.js'),
  'health export': () => import('./health-export.js'),
  'health reset': () => import('./health-reset.js'),
  'health serve': () => import('./health-serve.js'),
  cleanup: () => import('./cleanup.js'),
  export: () => import('./export.js'),
  migrate: () => import('./migrate.js'),
  doctor: () => import('./doctor.js'),
  register: () => import('./register.js'),
  record: () => import('./record.js'),
  recommend: () => import('./recommend.js'),
  stats: () => import('./stats.js'),
  'stats export': () => import('./stats-export.js'),
  'stats reset': () => import('./stats-reset.js'),
  send: () => import('./send.js'),
  inbox: () => import('./inbox.js'),
  read: () => import('./read.js'),
  ack: () => import('./ack.js'),
  nack: () => import('./nack.js'),
  conversation: () => import('./conversation.js'),
  status: () => import('./status.js'),
  deliver: () => import('./deliver.js'),
  bots: () => import('./bots.js'),
  mcp: () => import('./mcp.js'),
  prime: () => import('./prime.js'),
  hook: () => import('./hook.js'),
  'hooks install': () => import('./hooks-install.js'),
  'hooks uninstall': () => import('./hooks-uninstall.js'),
  completion: () => import('./completion.js'),
};
