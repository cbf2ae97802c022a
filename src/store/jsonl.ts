/**
 * JSONL framing: one record = one line = one write ending in "\n".
 * Parsing never throws: a line that does not parse, or a final line without
 * "\n" (a torn write), is skipped and reported through `onBad`.
 */

export interface BadLine {
  /** 1-based line number, counted from `startLine`. */
  line: number;
  /** Byte offset of the line's start in the file. */
  offset: number;
  reason: 'torn' | 'corrupt';
  /** The raw text, so a repair can keep it instead of deleting it. */
  text: string;
}

export interface ParsedChunk<T> {
  records: T[];
  /** Byte offset just past the last complete line: where the next read resumes. */
  end: number;
  /** Lines consumed (complete lines only). */
  lines: number;
}

const NL = 0x0a;

export function encodeRecords(records: readonly unknown[]): string {
  let s = '';
  for (const r of records) s += JSON.stringify(r) + '\n';
  return s;
}

/**
 * Parse complete lines of `buf`. `base` is the byte offset of buf[0] in the file and
 * `startLine` the line number of its first line. A trailing fragment without "\n"
 * is not consumed: `end` stops before it, and `torn` tells whether one was there.
 */
export function parseBuffer<T>(
  buf: Buffer,
  base: number,
  startLine: number,
  onBad: (bad: BadLine) => void,
  each?: (rec: T, offset: number) => void,
): ParsedChunk<T> & { tornText?: string } {
  const records: T[] = [];
  let pos = 0;
  let line = startLine;
  while (pos < buf.length) {
    const nl = buf.indexOf(NL, pos);
    if (nl === -1) break;
    if (nl > pos) {
      const text = buf.toString('utf8', pos, nl);
      const rec = parseLine<T>(text);
      if (rec === undefined) {
        if (text.trim() !== '') onBad({ line, offset: base + pos, reason: 'corrupt', text });
      } else if (each) each(rec, base + pos);
      else records.push(rec);
    }
    line++;
    pos = nl + 1;
  }
  const result: ParsedChunk<T> & { tornText?: string } = { records, end: base + pos, lines: line - startLine };
  if (pos < buf.length) result.tornText = buf.toString('utf8', pos);
  return result;
}

function parseLine<T>(text: string): T | undefined {
  try {
    const v = JSON.parse(text);
    // Every record we write is an object; anything else is damage.
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}
