import { defineCommand } from '../command.js';
import { primeText } from '../../hooks/prime.js';

export default defineCommand({
  name: 'prime',
  summary: 'print the short guide an AI agent needs to use deia (for its prompt or AGENTS.md)',
  examples: ['deia prime --as BOT-001', 'deia prime >> AGENTS.md'],
  async exec(run) {
    const bot = run.opts.as ?? (run.env.DEIA_BOT || undefined);
    const text = primeText(bot);
    if (run.out.json) return run.out.printJson({ bot_id: bot ?? null, text, bytes: Buffer.byteLength(text) });
    run.out.raw(text);
  },
});
