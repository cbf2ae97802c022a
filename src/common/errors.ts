/**
 * Errors that reach a person. The CLI prints them as one line,
 * `deia: <message> (<hint>)`, and exits with `exitCode`; nothing else prints a stack.
 */
export class DeiaError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** 1 = failure or nothing found, 2 = bad usage or bad input. */
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'DeiaError';
  }
}

/** Bad usage or bad input: exit 2, and the caller guarantees nothing was stored. */
export class UsageError extends DeiaError {
  constructor(message: string, hint?: string) {
    super(message, hint, 2);
    this.name = 'UsageError';
  }
}

export function isDeiaError(e: unknown): e is DeiaError {
  return e instanceof DeiaError;
}
