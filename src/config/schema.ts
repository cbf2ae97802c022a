/**
 * A tiny schema for config.json: each leaf knows its type, its default and its bounds,
 * so validation errors can name the key and the expected type in one line.
 */
export type IntLeaf = { kind: 'int'; default: number; min: number; max: number; doc: string };
export type NumLeaf = { kind: 'number'; default: number; min: number; max: number; doc: string };
export type StrLeaf = { kind: 'string'; default: string; enum?: readonly string[]; doc: string };
export type OptStrLeaf = { kind: 'string?'; default: string | null; doc: string };
export type BoolLeaf = { kind: 'boolean'; default: boolean; doc: string };
export type Leaf = IntLeaf | NumLeaf | StrLeaf | OptStrLeaf | BoolLeaf;

export type Section = Record<string, Leaf>;

/**
 * Every number has both bounds, named in the error when a value falls outside them: an
 * unbounded one (a TTL of 1e15 s, a backoff of 1e20 ms) breaks date arithmetic and timers
 * far from the config file (issue 12.8). The upper bound is required so no key can lack one.
 */
export const int = (d: number, doc: string, min: number, max: number): IntLeaf => ({ kind: 'int', default: d, min, max, doc });
export const num = (d: number, doc: string, min: number, max: number): NumLeaf => ({ kind: 'number', default: d, min, max, doc });
export const str = (d: string, doc: string, values?: readonly string[]): StrLeaf => ({ kind: 'string', default: d, enum: values, doc });
export const optStr = (doc: string): OptStrLeaf => ({ kind: 'string?', default: null, doc });
export const bool = (d: boolean, doc: string): BoolLeaf => ({ kind: 'boolean', default: d, doc });

export type Defaults<S extends Section> = {
  [K in keyof S]: S[K] extends { kind: 'int' | 'number' }
    ? number
    : S[K] extends { kind: 'string' }
      ? string
      : S[K] extends { kind: 'string?' }
        ? string | null
        : boolean;
};

export function defaultsOf<S extends Section>(s: S): Defaults<S> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, leaf] of Object.entries(s)) out[k] = leaf.default;
  return out as Defaults<S>;
}

export function describe(leaf: Leaf): string {
  switch (leaf.kind) {
    case 'int':
      return `an integer >= ${leaf.min} and <= ${leaf.max}`;
    case 'number':
      return `a number >= ${leaf.min} and <= ${leaf.max}`;
    case 'string':
      return leaf.enum ? `one of ${leaf.enum.join(', ')}` : 'a string';
    case 'string?':
      return 'a string or null';
    case 'boolean':
      return 'true or false';
  }
}

/** Why `v` does not fit `leaf`, or undefined when it does. */
export function check(leaf: Leaf, v: unknown): boolean {
  switch (leaf.kind) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && inRange(v, leaf.min, leaf.max);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) && inRange(v, leaf.min, leaf.max);
    case 'string':
      return typeof v === 'string' && (!leaf.enum || leaf.enum.includes(v));
    case 'string?':
      return v === null || typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
  }
}

function inRange(v: number, min: number, max: number): boolean {
  return v >= min && v <= max;
}
