import { defineCommand } from '../command.js';
import { HOOK_EVENTS, parseHarness, type HookEvent } from '../../hooks/harness.js';
import { LAYOUT_FILE } from '../../store/file/layout.js';

export default defineCommand({
  name: 'hook',
  postgres: true,
  summary: 'run by harness hooks (`deia hooks install`): reads the JSON payload on stdin; always exits 0',
  args: '<event>',
  options: [{ flags: '--harness <name>', description: 'claude, codex, cursor or opencode' }],
  examples: ['deia hook session-start --harness claude < payload.json', 'deia hook stop --harness codex < payload.json'],
  async exec(run) {
    // Fails open: a broken hive, a bad payload or a bug must never break the agent's session,
    // so every error ends here with exit 0 and nothing on stdout.
    try {
      const event = String(run.args[0]) as HookEvent;
      if (!HOOK_EVENTS.includes(event)) return 0;
      const harness = parseHarness(run.opts.harness);
      const { parsePayload, payloadCwd, identityFor, runHook, formatAnswer } = await import('../../hooks/runtime.js');
      const payload = parsePayload(process.stdin.isTTY ? '{}' : await run.stdin());
      const cwd = payloadCwd(payload) ?? process.cwd();
      const ctx = run.hive({ cwd, warn: () => undefined });
      // No hive here: nothing to do. A store named by URL (DEIA_STORE, --store, store.url) is the hive
      // itself; a folder found here (either layout: a missing one would start in the interface's) is a
      // hive once it holds config.json, the 0.1 layout's mailboxes/ or layout.json.
      const c = ctx.storeChoice;
      const found = c.kind === 'file' || (c.kind === 'interface' && c.from === LAYOUT_FILE);
      if (found && !['config.json', 'mailboxes', LAYOUT_FILE].some((f) => ctx.store.exists(f))) return 0;
      const id = run.opts.as ? { bot: String(run.opts.as), from: 'env' as const } : identityFor(harness, payload, run.env, cwd);
      // The exact command the agent should type: `deia` when it is on PATH, else this deia's path.
      const { findOnPath } = await import('../../store/outside.js');
      const { shellQuote } = await import('../../hooks/harness.js');
      const deia = findOnPath('deia', run.env) ? 'deia' : [process.execPath, process.argv[1] ?? 'deia'].map(shellQuote).join(' ');
      const answer = await runHook(ctx, event, payload, id.bot, deia);
      if (event === 'session-start' && id.from === 'session' && run.env.CLAUDE_ENV_FILE) {
        // Claude Code runs this file before each Bash command: the agent's `deia` calls know who they are.
        (await import('../../store/outside.js')).appendOutside(run.env.CLAUDE_ENV_FILE, `export DEIA_BOT=${id.bot}\n`);
      }
      const text = formatAnswer(harness, event, answer);
      if (text) run.out.raw(text + '\n');
    } catch (e) {
      if (run.env.DEIA_DEBUG) process.stderr.write(`deia hook: ${(e as Error)?.stack ?? e}\n`);
    }
    return 0;
  },
});
