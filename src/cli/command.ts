import type { HiveContext, HiveOptions } from '../hive.js';
import type { Output } from './output.js';
import type { OptionType } from './parser.js';

/**
 * An option in commander's flag syntax, e.g. `--priority <level>`, with its type: the value
 * reaches `exec` converted (src/cli/parser.ts), or the user gets a usage error naming the flag.
 */
export interface OptionSpec {
  flags: string;
  description: string;
  default?: string | boolean | string[];
  /** How the value is checked and converted (default: the string as written). */
  type?: OptionType;
  /** `duration`: the unit of a bare number (default `s`); the value is always milliseconds. */
  unit?: 'ms' | 's' | 'm';
  /** `int`: bounds (default 0..); `duration`: bounds in milliseconds. */
  min?: number;
  max?: number;
}

/**
 * One command = one file under src/cli/commands/, declaring its name, summary,
 * arguments, options and examples, with one `exec`. Output goes through `run.out`.
 */
export interface CommandSpec {
  /** 'send', or 'health record' for a sub-command. */
  name: string;
  summary: string;
  /** commander argument syntax, e.g. '<to> <body...>'. */
  args?: string;
  options?: OptionSpec[];
  /** Shown under "Examples:" in --help; at least one per command. */
  examples: string[];
  /**
   * Exit code for every error of this command itself (bad usage, bad input, failure),
   * instead of 2 for usage and 1 for failure: monitoring checks (`deia health`) use 3 (UNKNOWN).
   * Its sub-commands keep the usual codes.
   */
  errorExitCode?: number;
  /** Runs on a PostgreSQL store too; other commands refuse one with a clear error. */
  postgres?: boolean;
  /** Opens a folder deia 0.1 made (doctor, export, migrate); every other command refuses one (EOLDLAYOUT). */
  oldLayout?: boolean;
  /** Returns the exit code (0 when omitted). */
  exec(run: Run): Promise<number | void>;
}

export interface Run {
  /** Positional arguments in declaration order (a variadic one is an array). */
  args: unknown[];
  /**
   * Options of the command merged with the global ones (--dir, --as, --json), converted by
   * their declared type: an `int` is a number, a `duration` milliseconds.
   */
  opts: Record<string, any>;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Open the hive (locate folder, validate config); `overrides` e.g. a --from identity. */
  hive(overrides?: Partial<HiveOptions>): HiveContext;
  /** Read all of standard input as text. */
  stdin(): Promise<string>;
  /** Every command's spec, each file loaded now (`deia completion`; the program holds the list, a command does not import it). */
  commands(): Promise<CommandSpec[]>;
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}
