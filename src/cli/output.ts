import { sanitize } from './sanitize.js';
import { ANSI, fitWidth, PLAIN, renderTable, type Align, type Palette } from './render.js';

export type { Align, Palette } from './render.js';

export interface OutputOptions {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * Every byte deia prints goes through here: JSON documents for programs, tables,
 * colour and sanitised text for people, warnings and errors on stderr.
 * Colour only on a TTY and never with NO_COLOR; never in --json mode.
 */
export class Output {
  readonly json: boolean;
  /** Colours: SGR codes when colour is on, identity functions otherwise. */
  readonly c: Palette;
  readonly colorLevel: number;
  readonly isTTY: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private progressShown = false;

  constructor(opts: OutputOptions) {
    this.json = opts.json;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    const env = opts.env ?? process.env;
    this.isTTY = Boolean(this.stdout.isTTY);
    const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
    const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== '';
    this.colorLevel = this.json || noColor ? 0 : this.isTTY || forced ? 1 : 0;
    this.c = this.colorLevel > 0 ? ANSI : PLAIN;
  }

  /** Kept for callers written when colour was loaded lazily; nothing is loaded now. */
  async init(): Promise<this> {
    return this;
  }

  /** Text a bot or person wrote: terminal controls removed. Use for every foreign string. */
  safe(text: unknown): string {
    return sanitize(String(text ?? ''));
  }

  /** One JSON document on stdout (the only thing printed there with --json). */
  printJson(doc: unknown): void {
    this.clearProgress();
    this.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  }

  /** A line for people. Callers pass bot-written parts through `safe` first. */
  line(text = ''): void {
    this.clearProgress();
    this.stdout.write(text + '\n');
  }

  /** Raw lines for plumbing output (ids, one per line). */
  raw(text: string): void {
    this.stdout.write(text);
  }

  /** A cell with our own colour: the text is still sanitised, the colour added after. */
  paint(text: unknown, style: (s: string) => string): Painted {
    return new Painted(String(text ?? ''), style);
  }

  /** An aligned table; every cell is sanitised here, so foreign text is safe in any cell. */
  async table(head: string[], rows: Cell[][], align: Align[] = []): Promise<void> {
    const cells = rows.map((r) => r.map((cell) => (cell instanceof Painted ? cell.style(sanitizeCell(cell.text)) : sanitizeCell(String(cell)))));
    this.line(renderTable(head.map((h) => this.c.bold(sanitizeCell(h))), cells, align));
  }

  warn(message: string): void {
    this.clearProgress();
    this.stderr.write(`deia: warning: ${oneLine(message)}\n`);
  }

  /**
   * `deia: <what went wrong> (<what to do>)` on stderr, always one line whatever text it quotes.
   * Under --json also `{"error":{"code","message","hint"}}` on stdout, so a program reading
   * stdout gets a document either way; `code` is stable (docs/cli.md).
   */
  error(message: string, hint?: string, code = 'EFAIL'): void {
    this.errorLine(message, hint);
    if (this.json) {
      const error = { code, message: oneLine(message), hint: hint === undefined ? null : oneLine(hint) };
      this.stdout.write(JSON.stringify({ error }, null, 2) + '\n');
    }
  }

  /** The one-line error on stderr only: for a command whose --json answer on stdout already says it (health UNKNOWN). */
  errorLine(message: string, hint?: string): void {
    this.clearProgress();
    this.stderr.write(`deia: ${oneLine(message)}${hint ? ` (${oneLine(hint)})` : ''}\n`);
  }

  /** Width of the terminal the progress line is drawn on (undefined when not a terminal). */
  get columns(): number | undefined {
    return this.stderr.isTTY ? this.stderr.columns : undefined;
  }

  /**
   * A single refreshing progress line on stderr, only on a terminal and never with --json.
   * Cut to the terminal's width minus one: a line that wraps cannot be redrawn with `\r`.
   */
  progress(text: string): void {
    if (this.json || !this.stderr.isTTY) return;
    const width = this.stderr.columns;
    this.stderr.write(`\r\x1b[2K${width ? fitWidth(sanitize(text), width - 1) : text}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write('\r\x1b[2K');
    this.progressShown = false;
  }
}

export class Painted {
  constructor(
    readonly text: string,
    readonly style: (s: string) => string,
  ) {}
}

export type Cell = string | number | Painted;

/** Sanitised, with line breaks and tabs folded: an error quoting a bad id stays one line. */
function oneLine(text: string): string {
  return sanitize(text).replace(/[\t\n]+/g, ' ');
}

function sanitizeCell(text: string): string {
  return sanitize(text).replace(/[\t\n]+/g, ' ');
}
