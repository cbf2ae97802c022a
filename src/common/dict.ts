/**
 * Objects keyed by ids or task types, where a JSON shape needs an object rather than a Map.
 * A plain `{}` inherits Object.prototype, so an id named `constructor` or `toString` would read
 * a built-in function instead of "not there" (issue 12.3). A null-prototype object has no
 * inherited keys: every lookup sees only what was stored, and `__proto__` is an ordinary key.
 * Code that keeps a map only in memory uses `Map` instead.
 */
export type Dict<T> = Record<string, T>;

export function dict<T>(): Dict<T> {
  return Object.create(null) as Dict<T>;
}

/** An own-keys-only copy of `o` without a prototype (for objects that came from JSON.parse). */
export function toDict<T>(o: Readonly<Record<string, T>> | null | undefined): Dict<T> {
  const d = dict<T>();
  if (o) for (const k of Object.keys(o)) d[k] = o[k]!;
  return d;
}
