/**
 * Seeded randomness for routing: a small exact PRNG (mulberry32) and the samplers the
 * policy needs (normal, gamma, beta). Everything takes a `() => number` in [0, 1), so the
 * injected ctx.random, a `--seed N` generator and the simulator all drive the same code.
 */
export type Random = () => number;

/** mulberry32: 32-bit state, period 2^32, fast and exactly reproducible across platforms. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box-Muller (one value per call; simple and exact given the source). */
export function normal(random: Random): number {
  let u = random();
  while (u <= 0) u = random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) by Marsaglia and Tsang; shape < 1 through the boost u^(1/shape). */
export function gamma(shape: number, random: Random): number {
  if (shape < 1) {
    let u = random();
    while (u <= 0) u = random();
    return gamma(shape + 1, random) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function beta(a: number, b: number, random: Random): number {
  const x = gamma(a, random);
  const y = gamma(b, random);
  const s = x + y;
  return s > 0 ? x / s : a / (a + b);
}
