import { defineCommand } from '../command.js';
import { initHive } from '../../maintenance/init.js';

export default defineCommand({
  name: 'init',
  summary: 'create .deia/ with config.json (every default written out) and a .gitignore',
  options: [{ flags: '--force', description: 'rewrite config.json with the defaults' }],
  examples: ['deia init', 'deia init --dir /srv/hive --force'],
  async exec(run) {
    // With --force a broken config must not stop its own repair, so the config is not loaded here.
    const ctx = run.opts.force ? run.hive({ ignoreConfig: true }) : run.hive();
    const res = await initHive(ctx, { force: Boolean(run.opts.force) });
    if (run.out.json) return run.out.printJson(res);
    if (res.already_initialised) run.out.line(`${res.dir} is already initialised (config.json is valid)`);
    else run.out.line(`initialised ${res.dir}: config.json${res.gitignore_written ? ' and .gitignore' : ''} written`);
  },
});
