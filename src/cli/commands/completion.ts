import { UsageError } from '../../common/errors.js';
import { defineCommand } from '../command.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

export default defineCommand({
  name: 'completion',
  summary: 'print a shell completion script for bash, zsh or fish (commands, sub-commands, options)',
  args: '<shell>',
  examples: [
    'deia completion bash > ~/.local/share/bash-completion/completions/deia',
    'deia completion fish > ~/.config/fish/completions/deia.fish',
    'deia completion zsh    # in ~/.zshrc: eval "$(deia completion zsh)"',
  ],
  async exec(run) {
    const shell = String(run.args[0]) as Shell;
    if (!SHELLS.includes(shell)) throw new UsageError(`no completion for shell ${JSON.stringify(shell).slice(0, 40)}`, `use one of ${SHELLS.join(', ')}`);
    // Every command is loaded here (once, when the script is generated), never when completing.
    const specs = await run.commands();
    run.out.raw(completionScript(shell, specs));
  },
});
