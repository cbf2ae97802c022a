/**
 * Errors that reach a person. The CLI prints them as one line,
 * `deia: <message> (<hint>)`, and exits with `exitCode`; nothing else prints a stack.
 * `code` is stable (programs, `--json` error output and MCP tool errors rely on it): a code may be
 * added, never renamed. Codes are upper case with an `E` prefix, as npm's and Node's are.
 */
export class DeiaError extends Error {
  readonly code: string;
  constructor(
    message: string,
    readonly hint?: string,
    /** 1 = failure or nothing found, 2 = bad usage or bad input. */
    readonly exitCode: number = 1,
    /** Stable machine-readable code; defaults to EUSAGE for exit 2, else EFAIL. */
    code?: string,
  ) {
    super(message);
    this.name = 'DeiaError';
    this.code = code ?? (exitCode === 2 ? 'EUSAGE' : 'EFAIL');
  }
}

/** Bad usage or bad input: exit 2, and the caller guarantees nothing was stored. */
export class UsageError extends DeiaError {
  constructor(message: string, hint?: string, code = 'EUSAGE') {
    super(message, hint, 2, code);
    this.name = 'UsageError';
  }
}

export function isDeiaError(e: unknown): e is DeiaError {
  return e instanceof DeiaError;
}
