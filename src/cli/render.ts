/**
 * Colour and aligned tables, written for deia's start-up: `deia inbox` loading cli-table3 and
 * chalk (with string-width and their dependencies) cost about 0.4x of a whole Node start, for
 * features deia never used (borders, wrapping, 256 colours). This is what deia uses of them:
 * sixteen-colour SGR codes and columns padded to the widest cell, measured in terminal columns.
 */

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
export const PLAIN: Palette = { red: id, green: id, yellow: id, blue: id, magenta: id, cyan: id, gray: id, bold: id, dim: id };

/** SGR open/close pairs, as chalk writes them (a close that ends only this style, so styles nest). */
const sgr = (open: number, close: number) => (s: string) => (s === '' ? s : `\x1b[${open}m${s}\x1b[${close}m`);
export const ANSI: Palette = {
  red: sgr(31, 39),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
  blue: sgr(34, 39),
  magenta: sgr(35, 39),
  cyan: sgr(36, 39),
  gray: sgr(90, 39),
  bold: sgr(1, 22),
  dim: sgr(2, 22),
};

// Our own SGR codes only: cells were sanitised before being painted, so no other escape is left.
const SGR = /\x1b\[[0-9;]*m/g;
// Zero-width: combining marks, variation selectors, zero-width joiners and spaces.
const ZERO = /[\p{Mn}\p{Me}\u200b-\u200f\ufe00-\ufe0f]/u;
// Two columns: East Asian wide and full-width characters, and emoji presentation.
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;

/** Columns a string takes on a terminal (our colour codes take none). */
export function visibleWidth(text: string): number {
  let w = 0;
  for (const ch of text.replace(SGR, '')) w += ZERO.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
  return w;
}

/** At most `max` columns, ending in `…` when cut (for a line that must not wrap). */
export function fitWidth(text: string, max: number): string {
  if (visibleWidth(text) <= max) return text;
  let out = '';
  let w = 0;
  for (const ch of text.replace(SGR, '')) {
    const cw = visibleWidth(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

export type Align = 'left' | 'right';

/** Columns separated by two spaces, each as wide as its widest cell; no trailing blanks. */
export function renderTable(head: string[], rows: string[][], align: Align[] = []): string {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => visibleWidth(r[i] ?? ''))));
  const line = (r: string[]) =>
    widths
      .map((w, i) => {
        const cell = r[i] ?? '';
        const pad = ' '.repeat(w - visibleWidth(cell));
        return align[i] === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n');
}
