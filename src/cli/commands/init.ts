import { defineCommand } from '../command.js';
import { initHive, initStore } from '../../maintenance/init.js';

export default defineCommand({
  name: 'init',
  summary: 'create .deia/ with config.json (every default written out) and a .gitignore; with --store postgres://…, the schema',
  options: [{ flags: '--force', description: 'rewrite config.json with the defaults' }],
  examples: ['deia init', 'deia init --dir /srv/hive --force', 'deia init --store postgres://deia@db.internal/hive'],
  postgres: true,
  async exec(run) {
    // With --force a broken config must not stop its own repair, so the config is not loaded here.
    const ctx = run.opts.force ? run.hive({ ignoreConfig: true }) : run.hive();
    if (ctx.storeChoice.kind === 'postgres') {
      const res = await initStore(ctx.storeChoice.url);
      if (run.out.json) return run.out.printJson(res);
      if (res.already_initialised) run.out.line(`${res.store}: the deia schema is up to date (version ${res.schema_version})`);
      else run.out.line(`initialised ${res.store}: deia schema version ${res.schema_version} (migrations ${res.applied.join(', ')} applied)`);
      return;
    }
    const res = await initHive(ctx, { force: Boolean(run.opts.force) });
    if (run.out.json) return run.out.printJson(res);
    if (res.already_initialised) run.out.line(`${res.dir} is already initialised (config.json is valid)`);
    else run.out.line(`initialised ${res.dir}: config.json${res.gitignore_written ? ' and .gitignore' : ''} written`);
  },
});
