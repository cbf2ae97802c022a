/**
 * Strip everything from bot-written text that a terminal would act on instead of print:
 * escape sequences (CSI such as `ESC[2J`, OSC such as `ESC]0;title BEL`, DCS/APC/PM/SOS
 * strings, two-byte escapes), 8-bit C1 controls, C0 controls other than tab and newline
 * (a carriage return can overwrite what a person just read), and the Unicode
 * bidirectional overrides that can make text read differently from what it is.
 */
const PATTERNS: RegExp[] = [
  /\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g, // OSC ... BEL | ST
  /\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?/g, // DCS, SOS, PM, APC ... ST
  /\x1b\[[0-?]*[ -/]*[@-~]?/g, // CSI
  /\x9b[0-?]*[ -/]*[@-~]?/g, // 8-bit CSI
  /[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g, // 8-bit DCS/SOS/OSC/PM/APC
  /\x1b[ -/]*[0-~]?/g, // other escapes (ESC c resets the terminal) and a lone ESC
  /[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/g, // remaining C0 (not \t \n) and C1 controls
  /[\u202a-\u202e\u2066-\u2069]/g, // bidi embeddings, overrides and isolates
];

export function sanitize(text: string): string {
  let s = text;
  for (const p of PATTERNS) s = s.replace(p, '');
  return s;
}

/** Sanitised and folded onto one line, for a table cell. */
export function sanitizeLine(text: string, max = 60): string {
  const s = sanitize(text).replace(/[\t\n]+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
