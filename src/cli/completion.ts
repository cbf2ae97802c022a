/**
 * Shell completion scripts, generated from the command registry and each command's declared
 * options, so they cannot drift from the CLI. Static scripts: completing a word runs no deia
 * process (a bot id or task id is not completed: that would read the hive on every Tab).
 */
import type { CommandSpec } from './command.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Options every command takes (program.ts), with whether they take a value. */
const GLOBAL: Array<[string, boolean]> = [
  ['--dir', true],
  ['--as', true],
  ['--store', true],
  ['--json', false],
  ['--help', false],
];

interface Entry {
  path: string;
  options: Array<[string, boolean]>;
}

function entries(specs: readonly CommandSpec[]): Entry[] {
  return specs.map((s) => ({
    path: s.name,
    options: (s.options ?? []).flatMap((o) => {
      const long = /--[a-z0-9-]+/i.exec(o.flags)?.[0];
      return long ? [[long, /[<[]/.test(o.flags)] as [string, boolean]] : [];
    }),
  }));
}

/** Words that may follow a command path ('' = top level): its sub-commands. */
function children(all: Entry[], path: string): string[] {
  const depth = path === '' ? 0 : path.split(' ').length;
  const names = new Set<string>();
  for (const e of all) {
    const w = e.path.split(' ');
    if (w.length > depth && (path === '' || e.path.startsWith(path + ' '))) names.add(w[depth]!);
  }
  return [...names].sort();
}

/** Every path that has children or options: the groups too (`task` has no spec of its own). */
function paths(all: Entry[]): string[] {
  const out = new Set<string>(['']);
  for (const e of all) {
    const w = e.path.split(' ');
    for (let i = 1; i <= w.length; i++) out.add(w.slice(0, i).join(' '));
  }
  return [...out].sort();
}

const optionsOf = (all: Entry[], path: string) => all.find((e) => e.path === path)?.options ?? [];

function bash(all: Entry[]): string {
  const ps = paths(all);
  const subs = ps.map((p) => `    ${JSON.stringify(p)}) echo ${JSON.stringify(children(all, p).join(' '))} ;;`).join('\n');
  const opts = ps.map((p) => `    ${JSON.stringify(p)}) echo ${JSON.stringify(optionsOf(all, p).map(([o]) => o).join(' '))} ;;`).join('\n');
  const valued = [...new Set([...GLOBAL, ...all.flatMap((e) => e.options)].filter(([, v]) => v).map(([o]) => o))].sort();
  return `# deia completion for bash. Load it now:   eval "$(deia completion bash)"
# or for every shell:   deia completion bash > ~/.local/share/bash-completion/completions/deia
_deia_subs() {
  case "$1" in
${subs}
  esac
}
_deia_opts() {
  case "$1" in
${opts}
  esac
}
_deia() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" i w
  case "$prev" in
    --dir|--out) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -p|--priority) COMPREPLY=($(compgen -W "P0 P1 P2 P3" -- "$cur")); return ;;
    ${valued.join('|')}) COMPREPLY=(); return ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      ${valued.join('|')}) ((i++)) ;;
      -*) ;;
      *) case " $(_deia_subs "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_deia_opts "$path") ${GLOBAL.map(([o]) => o).join(' ')}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_deia_subs "$path")" -- "$cur"))
  fi
}
complete -o default -F _deia deia
`;
}

/** zsh runs the bash script through its bash-completion layer (bashcompinit, part of zsh). */
function zsh(all: Entry[]): string {
  return `# deia completion for zsh. Load it now:   eval "$(deia completion zsh)"
# or for every shell: add that line to ~/.zshrc (after compinit)
autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }
autoload -U +X bashcompinit && bashcompinit
${bash(all).split('\n').filter((l) => !l.startsWith('#')).join('\n')}`;
}

function fish(all: Entry[]): string {
  const lines = [
    '# deia completion for fish. Load it now:   deia completion fish | source',
    '# or for every shell:   deia completion fish > ~/.config/fish/completions/deia.fish',
    'complete -c deia -f',
    'complete -c deia -l dir -r -F -d "hive folder"',
    'complete -c deia -l as -r -d "act as this bot"',
    'complete -c deia -l store -r -d "postgres://… URL or a hive folder"',
    'complete -c deia -l json -d "one JSON document on stdout"',
  ];
  const top = children(all, '');
  lines.push(`complete -c deia -n "not __fish_seen_subcommand_from ${top.join(' ')}" -a "${top.join(' ')}"`);
  for (const p of paths(all).filter((x) => x !== '')) {
    const words = p.split(' ');
    const seen = words.map((w) => `__fish_seen_subcommand_from ${w}`).join('; and ');
    const kids = children(all, p);
    if (kids.length) lines.push(`complete -c deia -n "${seen}; and not __fish_seen_subcommand_from ${kids.join(' ')}" -a "${kids.join(' ')}"`);
    const deeper = kids.length ? `; and not __fish_seen_subcommand_from ${kids.join(' ')}` : '';
    for (const [o, v] of optionsOf(all, p)) {
      const values = o === '--priority' ? ' -a "P0 P1 P2 P3"' : o === '--out' ? ' -F' : '';
      lines.push(`complete -c deia -n "${seen}${deeper}" -l ${o.slice(2)}${v ? ' -r' : ''}${values}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function completionScript(shell: Shell, specs: readonly CommandSpec[]): string {
  const all = entries(specs);
  return shell === 'bash' ? bash(all) : shell === 'zsh' ? zsh(all) : fish(all);
}
