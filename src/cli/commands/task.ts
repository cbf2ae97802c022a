import { defineCommand } from '../command.js';

const SUB = [
  ['submit <description…>', 'submit a task: classify, route to the best bot, send the assignment'],
  ['start <id>', 'mark your assigned task as in progress'],
  ['done <id>', 'finish your task: records the outcome, notifies the submitter'],
  ['fail <id>', 'fail your task (--retry: give it to another bot)'],
  ['list', 'tasks with status, bot, type, age, attempts'],
  ['show <id>', 'one task in full'],
  ['dispatch', 'assign queued tasks, re-dispatch those of stale bots'],
];

export default defineCommand({
  name: 'task',
  summary: 'task orchestration: submit / start / done / fail / list / show / dispatch',
  examples: [
    'deia task submit "fix the flaky login test" --as LEAD',
    'DEIA_BOT=BOT-002 deia task done 3f2a9c1e',
    'deia task list --status queued',
  ],
  async exec(run) {
    // `deia task` alone: the sub-commands (each has its own --help).
    const { out } = run;
    if (out.json) return out.printJson(SUB.map(([usage, summary]) => ({ command: `task ${usage}`, summary })));
    out.line('Usage: deia task <command> [options]\n\nCommands:');
    for (const [usage, summary] of SUB) out.line(`  ${usage!.padEnd(24)}${summary}`);
    out.line('\nRun `deia task <command> --help` for its options and examples.');
  },
});
