import { defineCommand } from '../command.js';
import { startTask } from '../../tasks/api.js';
import { taskLine } from '../tasks-render.js';

export default defineCommand({
  name: 'task start',
  summary: 'mark your assigned task as in progress (only its bot may)',
  args: '<id>',
  examples: ['deia task start 3f2a9c1e --as BOT-002', 'DEIA_BOT=BOT-002 deia task start 3f2a9c1e --json'],
  async exec(run) {
    const t = await startTask(run.hive(), run.args[0] as string);
    if (run.out.json) return run.out.printJson(t);
    run.out.line(taskLine(run.out, t));
  },
});
