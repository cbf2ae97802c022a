/**
 * The library API: the same operations as the CLI, for Node programs, typed.
 *   import { openHive } from 'deia';
 *   const hive = await openHive({ dir: '.deia', as: 'BOT-001' });
 */
import { createContext, type HiveContext, type HiveOptions } from './hive.js';

export { DeiaError, UsageError } from './common/errors.js';
export { isBotId, validateBotId, sequentialIds, type IdSource } from './common/ids.js';
export type { Clock } from './common/clock.js';
export { defaultConfig, resolveConfig, type Config } from './config/index.js';
export { Store } from './store/store.js';
export type { HiveContext, HiveOptions } from './hive.js';

export class Hive {
  constructor(readonly ctx: HiveContext) {}

  get dir(): string {
    return this.ctx.dir;
  }

  async init(opts: { force?: boolean } = {}) {
    const { initHive } = await import('./maintenance/init.js');
    return initHive(this.ctx, opts);
  }

  async register(bot: string) {
    const { ensureInbox } = await import('./messaging/registry.js');
    return ensureInbox(this.ctx, bot);
  }
}

export async function openHive(opts: HiveOptions = {}): Promise<Hive> {
  return new Hive(createContext(opts));
}
