import os from 'node:os';
import { defineCommand } from '../command.js';
import { parseHarness } from '../../hooks/harness.js';
import { installHooks, resolveDeia } from '../../hooks/install.js';
import { renderChanges } from './hooks-uninstall.js';

export default defineCommand({
  name: 'hooks install',
  summary: "add deia's hooks to a coding agent's settings (merged, never clobbering yours); twice changes nothing",
  options: [
    { flags: '--harness <name>', description: 'claude, codex, cursor or opencode' },
    { flags: '--global', description: 'the user-level file (~/.claude, ~/.codex, ~/.cursor, ~/.config/opencode) instead of the project' },
    { flags: '--docs', description: 'also write `deia prime` into CLAUDE.md (claude) or AGENTS.md, between markers' },
  ],
  examples: ['deia hooks install --harness claude', 'deia hooks install --harness codex --global', 'deia hooks install --harness cursor --docs'],
  async exec(run) {
    const harness = parseHarness(run.opts.harness);
    const deia = resolveDeia(run.env, process.argv[1], process.execPath);
    const changes = installHooks({ harness, global: Boolean(run.opts.global), docs: Boolean(run.opts.docs), cwd: process.cwd(), home: run.env.HOME || os.homedir(), deia });
    return renderChanges(run, changes, { harness, command: deia });
  },
});
