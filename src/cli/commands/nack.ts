import { defineCommand } from '../command.js';
import { settle } from './settle.js';

export default defineCommand({
  name: 'nack',
  summary: 'give back messages claimed with --lease: claimable again at once (only the holder of the latest claim may)',
  args: '<ids...>',
  options: [
    { flags: '--inbox <bot>', description: "the inbox holding the messages (default: yours, else any)" },
    { flags: '--claim <n>', description: 'refuse unless the claim you hold is still number n (its claim_count): for workers sharing one --as' },
  ],
  postgres: true,
  examples: ['deia nack 3f2a9c1b --as WORKER-1', 'deia nack 3f2a9c1b --as WORKER-1 --inbox QUEUE --claim 2 --json'],
  exec: (run) => settle(run, 'nack'),
});
