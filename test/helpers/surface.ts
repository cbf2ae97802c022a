import { deia } from './cli.js';

/** A command as its --help shows it: the words to run it, its arguments and option flags. */
export interface CommandInfo {
  path: string[];
  args: string[];
  /** Long flags with whether they take a value: [['--priority', true], ['--all', false]]. */
  options: Array<[string, boolean]>;
}

function commandLines(help: string): Array<{ name: string; args: string[] }> {
  const i = help.indexOf('\nCommands:\n');
  if (i < 0) return [];
  const block = help.slice(i + 11).split(/\n\n/)[0]!;
  const out: Array<{ name: string; args: string[] }> = [];
  for (const m of block.matchAll(/^ {2}([a-z][a-z-]*)((?: (?:\[options\]|\[command\]|<[^>]+>|\[[^\]]+\]))*)/gm)) {
    if (m[1] === 'help') continue;
    out.push({ name: m[1]!, args: (m[2] ?? '').trim().split(' ').filter((a) => a && a !== '[options]' && a !== '[command]') });
  }
  return out;
}

function optionsOf(help: string): Array<[string, boolean]> {
  const i = help.indexOf('\nOptions:\n');
  if (i < 0) return [];
  const block = help.slice(i + 10).split(/\n\n/)[0]!;
  const out: Array<[string, boolean]> = [];
  for (const m of block.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)( [<[])?/gm)) {
    if (m[1] === '--help' || m[1] === '--version') continue;
    out.push([m[1]!, Boolean(m[2])]);
  }
  return out;
}

/** Every command and sub-command of the built CLI, read from its --help. */
export function listCommands(): CommandInfo[] {
  const out: CommandInfo[] = [];
  const top = deia(['--help']);
  if (top.code !== 0) throw new Error(`deia --help exited ${top.code}: ${top.stderr.slice(0, 2000)}`);
  for (const c of commandLines(top.stdout)) {
    const help = deia([c.name, '--help']).stdout;
    const subs = commandLines(help);
    if (subs.length) {
      for (const s of subs) {
        const sh = deia([c.name, s.name, '--help']).stdout;
        out.push({ path: [c.name, s.name], args: s.args, options: optionsOf(sh) });
      }
      // a group that also runs on its own (e.g. `health`) has its own options
      out.push({ path: [c.name], args: [], options: optionsOf(help) });
    } else {
      out.push({ path: [c.name], args: c.args, options: optionsOf(help) });
    }
  }
  if (out.length === 0) throw new Error(`no commands found in deia --help:\n${top.stdout}`);
  return out;
}

export function hasCommand(cmds: CommandInfo[], name: string): boolean {
  return cmds.some((c) => c.path.join(' ') === name);
}
