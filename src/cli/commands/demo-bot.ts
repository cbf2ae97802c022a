import { defineCommand } from '../command.js';
import { UsageError } from '../../common/errors.js';
import { runDemoBot } from '../../demo/bot.js';
import type { BotProfile } from '../../demo/profiles.js';

export default defineCommand({
  name: 'demo bot',
  summary: 'one demo bot process (started by `deia demo`): claims, works and finishes its tasks',
  args: '<bot>',
  options: [
    { flags: '--profile <json>', description: 'hidden skill and speed per type: {"skill":{"code":0.9},"speed":{"code":150}}' },
    { flags: '--max-seconds <time>', description: 'stop after this long: 90s, 2m (bare number = seconds)', default: '120', type: 'duration', unit: 's', min: 1 },
    { flags: '--watch-stdin', description: 'stop when standard input closes (the demo holds it open)' },
  ],
  postgres: true,
  examples: ['deia demo bot BOT-ADA --profile \'{"skill":{"code":0.95},"speed":{"code":100}}\' --dir /tmp/hive/.deia'],
  async exec(run) {
    const bot = run.args[0] as string;
    let profile: BotProfile;
    try {
      const p = JSON.parse(String(run.opts.profile ?? '{}'));
      profile = { bot_id: bot, skill: p.skill ?? {}, speed: p.speed ?? {} };
    } catch {
      throw new UsageError('--profile must be JSON', '{"skill":{"code":0.9},"speed":{"code":150}}');
    }
    const maxMs: number = run.opts.maxSeconds;
    let stopped = false;
    if (run.opts.watchStdin) {
      process.stdin.on('end', () => (stopped = true));
      process.stdin.on('error', () => (stopped = true));
      process.stdin.resume();
    }
    process.once('SIGTERM', () => (stopped = true));
    const stats = await runDemoBot(run.hive({ as: bot }), profile, { maxMs, stopped: () => stopped });
    if (run.opts.watchStdin) process.stdin.destroy();
    if (run.out.json) return run.out.printJson({ bot_id: bot, ...stats });
    run.out.line(`${bot}: claimed ${stats.claimed}, done ${stats.done}, failed ${stats.failed}`);
  },
});
