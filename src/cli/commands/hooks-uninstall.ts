import os from 'node:os';
import { defineCommand, type Run } from '../command.js';
import { parseHarness } from '../../hooks/harness.js';
import { uninstallHooks, type FileChange } from '../../hooks/install.js';

export function renderChanges(run: Run, files: FileChange[], extra: Record<string, unknown>): number {
  if (run.out.json) {
    run.out.printJson({ ...extra, files });
    return 0;
  }
  for (const f of files) run.out.line(`${f.action.padEnd(9)} ${run.out.safe(f.path)}`);
  return 0;
}

export default defineCommand({
  name: 'hooks uninstall',
  summary: 'remove exactly the hooks (and with --docs, the docs block) that `hooks install` added',
  options: [
    { flags: '--harness <name>', description: 'claude, codex, cursor or opencode' },
    { flags: '--global', description: 'the user-level file instead of the project' },
    { flags: '--docs', description: 'also remove the block from CLAUDE.md / AGENTS.md' },
  ],
  examples: ['deia hooks uninstall --harness claude', 'deia hooks uninstall --harness cursor --docs'],
  async exec(run) {
    const harness = parseHarness(run.opts.harness);
    const changes = uninstallHooks({ harness, global: Boolean(run.opts.global), docs: Boolean(run.opts.docs), cwd: process.cwd(), home: run.env.HOME || os.homedir() });
    return renderChanges(run, changes, { harness });
  },
});
