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

/**
 * Joins chunks read from a file into runs of complete lines, in time linear in the bytes read
 * however long a line is: only each new chunk is searched for "\n", and a line spanning many
 * chunks is kept as a list of copies and joined once, when its end arrives. (Concatenating the
 * carried fragment with every chunk and re-scanning it made one 50 MB line cost minutes.)
 */
export class LineJoiner {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** File offset of the first byte not yet handed out. */
  start: number;

  constructor(start: number) {
    this.start = start;
  }

  /**
   * Feed the next chunk (it may be a view of a buffer the caller reuses). Returns the complete
   * lines so far, ending with "\n", and the file offset of their first byte; undefined when
   * the chunk holds no line end.
   */
  push(chunk: Buffer): { buf: Buffer; base: number } | undefined {
    const nl = chunk.lastIndexOf(NL);
    if (nl === -1) {
      this.keep(chunk);
      return undefined;
    }
    const head = chunk.subarray(0, nl + 1);
    const buf = this.parts.length ? Buffer.concat([...this.parts, head], this.partBytes + head.length) : head;
    this.parts = [];
    this.partBytes = 0;
    const base = this.start;
    this.start += buf.length;
    if (nl + 1 < chunk.length) this.keep(chunk.subarray(nl + 1));
    return { buf, base };
  }

  /** What is left after the last "\n" (a torn final line), joined. */
  rest(): Buffer {
    return Buffer.concat(this.parts, this.partBytes);
  }

  private keep(b: Buffer): void {
    this.parts.push(Buffer.from(b)); // a copy: the caller reuses its read buffer
    this.partBytes += b.length;
  }
}
