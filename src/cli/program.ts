import { Command, CommanderError, Option } from 'commander';
import { isDeiaError } from '../common/errors.js';
import { LAYOUT_FILE } from '../store/file/layout.js';
import { redactUrl } from '../store/postgres/url.js';
import { StoreError } from '../store/types.js';
import { createContext, type HiveContext, type HiveOptions } from '../hive.js';
import type { CommandSpec, Run } from './command.js';
import { COMMANDS } from './commands/index.js';
import { Output } from './output.js';
import { convertOptions } from './parser.js';
import { VERSION } from './version.js';

export interface Io {
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * Commands that may create a hive (they store something new). Every other command reads or
 * changes what is there, and on a missing hive fails naming the path it looked at, so a
 * misplaced cron job or a wrong --dir is noticed instead of answering "nothing here".
 */
const MAY_CREATE = new Set(['send', 'inbox', 'register', 'record', 'health record', 'task submit', 'demo', 'demo bot', 'mcp', 'hook', 'hooks install', 'prime']);

function hiveNeed(name: string): HiveOptions['need'] {
  return name === 'init' ? 'init' : MAY_CREATE.has(name) ? 'create' : 'existing';
}

/** Global options that take a value: skipped when looking for the command name. */
const VALUE_OPTIONS = new Set(['--dir', '--as', '--store']);

/** The first two words of argv that are not options (nor values of --dir/--as), up to `--`. */
function leadingWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    words.push(a);
  }
  return words;
}

const isGroup = (word: string) => !COMMANDS[word] && Object.keys(COMMANDS).some((k) => k.startsWith(word + ' '));

/**
 * The command path named in argv ('send', or ['health', 'record']), found without
 * loading any command, so that only the one being run is imported.
 */
export function findCommandPath(argv: readonly string[]): string[] {
  const words = leadingWords(argv);
  if (words.length === 2 && COMMANDS[words.join(' ')]) return words;
  if (words.length >= 1 && COMMANDS[words[0]!]) return [words[0]!];
  return [];
}

/**
 * `deia` or `deia task` with nothing after it (and no --help/--version): the group named, or ''
 * for none; undefined when a command is named. A one-line usage error, not a page of help.
 */
function missingCommand(argv: readonly string[]): string | undefined {
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-V')) return undefined;
  const words = leadingWords(argv);
  if (words.length === 0) return '';
  return words.length === 1 && isGroup(words[0]!) ? words[0] : undefined;
}

export async function run(argv: string[], io: Io = {}): Promise<number> {
  const env = io.env ?? process.env;
  const stderr = io.stderr ?? process.stderr;
  const wantsJson = argv.includes('--json');
  const out = await new Output({ json: wantsJson, stdout: io.stdout, stderr, env }).init();
  let exitCode = 0;

  const program = new Command('deia')
    .description('Bots in separate shells coordinate through one folder of JSONL files.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--dir <path>', 'hive folder (default: DEIA_DIR, else nearest .deia/ walking up, else ./.deia)')
    .option('--as <bot>', 'act as this bot (default: DEIA_BOT, else AGENT_NAME)')
    .option('--store <url>', 'where the hive lives: postgres://user@host/db, or a folder (default: DEIA_STORE, else store.url in config.json, else the folder)')
    .option('--json', 'print one JSON document on stdout, for programs')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: true })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.raw(s),
      writeErr: (s) => stderr.write(s),
      // Printed by the catch below, in deia's format (and as JSON under --json).
      outputError: () => {},
    });
  program.addHelpText(
    'after',
    '\nExamples:\n  deia init\n  deia send BOT-002 "tests are green" --as BOT-001 --priority P1\n  DEIA_BOT=BOT-002 deia inbox --next --json\n\nExit codes: 0 success, 1 failure or nothing found, 2 bad usage or input.',
  );

  if (wantsJson && argv.some((a) => a === '--version' || a === '-V')) {
    out.printJson({ name: 'deia', version: VERSION, node: process.version });
    return 0;
  }
  const path = findCommandPath(argv);
  const missing = missingCommand(argv);
  if (missing !== undefined) {
    out.error(missing ? `missing ${missing} sub-command` : 'missing command', `run \`deia ${missing ? `${missing} ` : ''}--help\` for the list`, 'EUSAGE');
    return 2;
  }
  const names = path.length ? [path.join(' '), ...(path.length === 2 ? [path[0]!] : [])] : Object.keys(COMMANDS);
  // A parent that is a command itself (`deia health`) lists its sub-commands in its help.
  if (path.length === 1 && (argv.includes('--help') || argv.includes('-h'))) {
    names.push(...Object.keys(COMMANDS).filter((k) => k.startsWith(path[0] + ' ')));
  }
  const specs = await Promise.all(names.filter((n) => COMMANDS[n]).map(async (n) => (await COMMANDS[n]!()).default));
  specs.sort((a, b) => a.name.split(' ').length - b.name.split(' ').length);

  const byName = new Map<string, Command>();
  for (const spec of specs) {
    const words = spec.name.split(' ');
    const parent = words.length === 2 ? ensureGroup(program, byName, words[0]!) : program;
    const existing = byName.get(spec.name);
    const cmd = existing ?? parent.command(words[words.length - 1]!);
    byName.set(spec.name, cmd);
    configure(cmd, spec, out, env, (code) => {
      exitCode = code;
    });
  }
  // A group without a spec of its own (`deia task …`) shows its sub-commands' examples in its help.
  for (const [name, cmd] of byName) {
    if (name.includes(' ') || specs.some((s) => s.name === name)) continue;
    const examples = specs.filter((s) => s.name.startsWith(name + ' ')).map((s) => s.examples[0]).filter(Boolean);
    if (examples.length) cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n`);
  }

  // The command being run may replace the error exit codes (monitoring checks exit 3).
  const errorExit = specs.find((s) => s.name === path.join(' '))?.errorExitCode;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // Help shown because no command was named (`deia`, `deia task`): bad usage.
      if (e.code === 'commander.help') return errorExit ?? 2;
      if (e.exitCode === 0) return 0;
      const { message, hint } = commanderError(e, argv, specs);
      out.error(message, hint, COMMANDER_CODES[e.code] ?? 'EUSAGE');
      return errorExit ?? 2;
    }
    if (isDeiaError(e)) {
      out.error(e.message, e.hint, e.code);
      if (env.DEIA_DEBUG) stderr.write(`${e.stack}\n`);
      return errorExit ?? e.exitCode;
    }
    const err = e as Error;
    out.error(`internal error: ${err?.message ?? String(e)}`, 'set DEIA_DEBUG=1 for a stack trace and report it', 'EINTERNAL');
    if (env.DEIA_DEBUG) stderr.write(`${err?.stack}\n`);
    return errorExit ?? 1;
  }
}

function ensureGroup(program: Command, byName: Map<string, Command>, name: string): Command {
  let g = byName.get(name);
  if (!g) {
    g = program.command(name);
    byName.set(name, g);
    g.description(`${name} commands`);
  }
  return g;
}

function configure(cmd: Command, spec: CommandSpec, out: Output, env: NodeJS.ProcessEnv, setExit: (n: number) => void) {
  cmd.description(spec.summary);
  if (spec.args) cmd.arguments(spec.args);
  for (const o of spec.options ?? []) {
    const opt = new Option(o.flags, o.description);
    if (o.default !== undefined) opt.default(o.default);
    cmd.addOption(opt);
  }
  if (spec.examples.length) {
    cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n`);
  }
  cmd.exitOverride();
  cmd.action(async (...actionArgs: unknown[]) => {
    const command = actionArgs[actionArgs.length - 1] as Command;
    const opts = command.optsWithGlobals();
    convertOptions(spec.options, opts);
    const args = actionArgs.slice(0, -2);
    let ctx: HiveContext | undefined;
    const runCtx: Run = {
      args,
      opts,
      out,
      env,
      hive(overrides: Partial<HiveOptions> = {}) {
        if (!ctx) {
          ctx = createContext({
            dir: opts.dir,
            as: opts.as,
            store: opts.store,
            env,
            clock: clockFromEnv(env),
            warn: (m) => out.warn(m),
            need: hiveNeed(spec.name),
            oldLayoutOk: spec.oldLayout,
            ...overrides,
          });
          const choice = ctx.storeChoice;
          if (choice.kind !== 'file' && !spec.postgres) {
            const pg = choice.kind === 'postgres';
            const on = pg ? 'a PostgreSQL store' : "a folder in the storage interface's layout";
            const why = choice.kind === 'interface' && choice.from === LAYOUT_FILE ? `${choice.dir} holds ${LAYOUT_FILE}` : `chosen by ${choice.from}: ${redactUrl(choice.url)}`;
            throw new StoreError(
              `deia ${spec.name} does not run on ${on} yet (${why})`,
              `${pg ? 'run it against a hive folder (--dir), or see' : 'see'} docs/storage.md for what runs on ${pg ? 'PostgreSQL' : 'that layout'}`,
              'ESTOREUNSUPPORTED',
            );
          }
        }
        return ctx;
      },
      stdin: readStdin,
      commands: () => Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).default)),
    };
    const code = await spec.exec(runCtx);
    setExit(typeof code === 'number' ? code : 0);
  });
}

/**
 * DEIA_NOW (ISO time or epoch ms) pins the clock for the whole process: tests of
 * retries, TTL and staleness across real processes use it instead of sleeping.
 */
function clockFromEnv(env: NodeJS.ProcessEnv): (() => number) | undefined {
  const v = env.DEIA_NOW;
  if (!v) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) return undefined;
  return () => ms;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Stable codes of usage errors found by commander (docs/cli.md lists every code). */
const COMMANDER_CODES: Record<string, string> = {
  'commander.unknownCommand': 'EUNKNOWNCOMMAND',
  'commander.unknownOption': 'EUNKNOWNOPTION',
  'commander.missingArgument': 'EMISSINGARG',
  'commander.optionMissingArgument': 'EMISSINGARG',
  'commander.missingMandatoryOptionValue': 'EMISSINGARG',
  'commander.excessArguments': 'EUSAGE',
  'commander.invalidArgument': 'EUSAGE',
};

/**
 * Commander's "error: unknown command 'sned'\n(Did you mean send?)" in deia's words:
 * `unknown command 'sned'` with the hint `did you mean \`deia send\`? see \`deia --help\``.
 */
export function commanderError(e: CommanderError, argv: readonly string[], specs: readonly CommandSpec[]): { message: string; hint: string } {
  const lines = e.message.replace(/^error:\s*/i, '').split('\n').map((l) => l.trim()).filter(Boolean);
  const message = lines[0] ?? 'bad usage';
  const suggestion = lines.map((l) => /^\(?Did you mean (.+?)\?\)?$/i.exec(l)?.[1]).find(Boolean);
  const path = findCommandPath(argv);
  const words = leadingWords(argv);
  // `deia task strat`: the group is known even though no command of it is.
  const where = path.length ? path : words.length && isGroup(words[0]!) ? [words[0]!] : [];
  const help = `see \`deia ${where.length ? `${where.join(' ')} ` : ''}--help\``;
  if (suggestion) {
    const cmd = e.code === 'commander.unknownCommand' ? `\`deia ${[...where, suggestion].join(' ')}\`` : suggestion;
    return { message, hint: `did you mean ${cmd}? ${help}` };
  }
  const spec = specs.find((s) => s.name === path.join(' '));
  if (e.code === 'commander.missingArgument' && spec?.args) return { message, hint: `usage: deia ${spec.name} ${spec.args}` };
  return { message, hint: help };
}
