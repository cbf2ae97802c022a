import type { CommandSpec } from '../command.js';

type Loader = () => Promise<{ default: CommandSpec }>;

/**
 * Command name -> the file that declares it. Only the command being run is loaded,
 * so start-up does not pay for the others (esbuild splits each into its own chunk).
 * Sub-commands are written 'parent child'.
 */
export const COMMANDS: Record<string, Loader> = {
  init: () => import('./init.js'),
  register: () => import('./register.js'),
};
