import { sanitize } from './sanitize.js';

export interface OutputOptions {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

export type Align = 'left' | 'right';

/**
 * Every byte deia prints goes through here: JSON documents for programs, tables,
 * colour and sanitised text for people, warnings and errors on stderr.
 * Colour only on a TTY and never with NO_COLOR; never in --json mode.
 */
export class Output {
  readonly json: boolean;
  /** Colours: chalk when colour is on, identity functions otherwise (chalk is then never loaded). */
  c: Palette = PLAIN;
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
  }

  /** Load chalk only when colour will be shown: start-up matters for every command. */
  async init(): Promise<this> {
    if (this.colorLevel > 0) {
      const { Chalk } = await import('chalk');
      this.c = new Chalk({ level: this.colorLevel as 1 });
    }
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
    const { default: Table } = await import('cli-table3');
    const t = new Table({
      head: head.map((h) => this.c.bold(h)),
      colAligns: align,
      style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2, compact: true },
      chars: {
        top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
        'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '',
      },
    });
    for (const r of rows) {
      t.push(r.map((cell) => (cell instanceof Painted ? cell.style(sanitizeCell(cell.text)) : sanitizeCell(String(cell)))));
    }
    this.line(t.toString().replace(/[ \t]+$/gm, ''));
  }

  warn(message: string): void {
    this.clearProgress();
    this.stderr.write(`deia: warning: ${oneLine(message)}\n`);
  }

  /** `deia: <what went wrong> (<what to do>)`, always one line whatever text it quotes. */
  error(message: string, hint?: string): void {
    this.clearProgress();
    this.stderr.write(`deia: ${oneLine(message)}${hint ? ` (${oneLine(hint)})` : ''}\n`);
  }

  /** A single refreshing progress line on stderr, only on a terminal and never with --json. */
  progress(text: string): void {
    if (this.json || !this.stderr.isTTY) return;
    this.stderr.write(`\r\x1b[2K${text}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write('\r\x1b[2K');
    this.progressShown = false;
  }
}

export interface Palette {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  magenta(s: string): string;
  cyan(s: string): string;
  gray(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const id = (s: string) => s;
const PLAIN: Palette = { red: id, green: id, yellow: id, blue: id, magenta: id, cyan: id, gray: id, bold: id, dim: id };

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
