// The routing regret simulator (issue 4). Pure and in-process: `lib` is the compiled policy
// module (src/scheduling/policy.ts + random.ts + config defaults), the same code `deia recommend`
// runs. bench/routing.mjs runs the full benchmark; test/scheduling-regret.test.ts a small one.

export const TYPES = ['code', 'analysis', 'writing', 'planning', 'testing', 'documentation', 'other'];
export const MIX = [0.3, 0.15, 0.15, 0.1, 0.15, 0.1, 0.05];
export const SCENARIOS = ['S0', 'S1', 'S2', 'S3', 'S4'];
export const SCENARIO_NAMES = {
  S0: 'stationary',
  S1: 'abrupt swaps',
  S2: 'gradual drift',
  S3: 'outages',
  S4: 'overload',
};
export const POLICIES = ['random', 'greedy', 'ema', 'thompson', 'swucb', 'deia'];
export const NBOTS = 5;
const BOTS = Array.from({ length: NBOTS }, (_, i) => `BOT-${i + 1}`);
const MINUTE = 60_000;
const LOAD_WINDOW = 50;
const OVERLOAD_SHARE = 0.4;
const OVERLOAD_FACTOR = 0.5;

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/**
 * One environment: everything random is drawn here, once, so every policy meets the same luck
 * (task types, the uniform deciding each bot's success on each task, drift, outages).
 * `prob(t, type, bot)` is the success probability before load effects.
 */
// `lib` is the compiled policy module: its PRNG and normal sampler are the ones deia uses.
export function makeEnv(scenario, seed, T, lib) {
  const r = lib.mulberry32(seed * 7919 + scenario.charCodeAt(1));
  const gauss = lib.normal;
  const p0 = TYPES.map(() => BOTS.map(() => 0.3 + 0.6 * r()));
  const dur = TYPES.map(() => BOTS.map(() => 5 + 55 * r()));
  const types = new Uint8Array(T);
  const luck = new Float32Array(T * NBOTS);
  const durLuck = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let u = r();
    let k = 0;
    while (k < MIX.length - 1 && u >= MIX[k]) u -= MIX[k++];
    types[t] = k;
    for (let b = 0; b < NBOTS; b++) luck[t * NBOTS + b] = r();
    durLuck[t] = -Math.log(1 - r() * 0.999);
  }
  // S1: every 2,000 tasks the best and worst bot of each type swap.
  // S2: one bot improves by +0.35, one declines by -0.35 over the run; a small random walk on top.
  // S3: per bot up/down chain: down with 0.002 per task, up again with 0.05; down = success 0.05.
  let prob;
  if (scenario === 'S1') {
    const segs = [];
    let cur = p0.map((row) => row.slice());
    for (let s = 0; s * 2000 < T; s++) {
      segs.push(cur);
      cur = cur.map((row) => {
        const out = row.slice();
        let hi = 0;
        let lo = 0;
        for (let b = 1; b < NBOTS; b++) {
          if (row[b] > row[hi]) hi = b;
          if (row[b] < row[lo]) lo = b;
        }
        out[hi] = row[lo];
        out[lo] = row[hi];
        return out;
      });
    }
    prob = (t, k, b) => segs[Math.floor(t / 2000)][k][b];
  } else if (scenario === 'S2') {
    const up = Math.floor(r() * NBOTS);
    let down = Math.floor(r() * (NBOTS - 1));
    if (down >= up) down++;
    const steps = Math.ceil(T / 100) + 1;
    const walk = new Float32Array(steps * TYPES.length * NBOTS);
    for (let s = 1; s < steps; s++)
      for (let i = 0; i < TYPES.length * NBOTS; i++) walk[s * TYPES.length * NBOTS + i] = walk[(s - 1) * TYPES.length * NBOTS + i] + 0.01 * gauss(r);
    prob = (t, k, b) => {
      const drift = b === up ? 0.35 : b === down ? -0.35 : 0;
      return clamp(p0[k][b] + (drift * t) / T + walk[Math.floor(t / 100) * TYPES.length * NBOTS + k * NBOTS + b], 0.02, 0.98);
    };
  } else if (scenario === 'S3') {
    const down = new Uint8Array(T * NBOTS);
    const state = new Uint8Array(NBOTS);
    for (let t = 0; t < T; t++)
      for (let b = 0; b < NBOTS; b++) {
        const u = r();
        if (state[b] === 0 && u < 0.002) state[b] = 1;
        else if (state[b] === 1 && u < 0.05) state[b] = 0;
        down[t * NBOTS + b] = state[b];
      }
    prob = (t, k, b) => (down[t * NBOTS + b] ? 0.05 : p0[k][b]);
  } else {
    prob = (_t, k, b) => p0[k][b];
  }
  return { scenario, seed, T, types, luck, durLuck, dur, prob };
}

// ------------------------------------------------------------------ baselines

function argmaxRandomTie(vals, r) {
  let best = -Infinity;
  let who = 0;
  let ties = 0;
  for (let i = 0; i < vals.length; i++) {
    if (vals[i] > best) {
      best = vals[i];
      who = i;
      ties = 1;
    } else if (vals[i] === best && r() * ++ties < 1) who = i;
  }
  return who;
}

function makeBaseline(name, lib, seed) {
  const r = lib.mulberry32(seed ^ 0x5bd1e995);
  const K = TYPES.length;
  const n = TYPES.map(() => new Float64Array(NBOTS));
  const s = TYPES.map(() => new Float64Array(NBOTS));
  if (name === 'random') return { choose: () => ({ bot: Math.floor(r() * NBOTS) }), update() {} };
  if (name === 'greedy') {
    return {
      choose(k) {
        for (let b = 0; b < NBOTS; b++) if (n[k][b] === 0) return { bot: b };
        return { bot: argmaxRandomTie(Array.from(n[k], (c, b) => s[k][b] / c), r) };
      },
      update(k, b, ok) {
        n[k][b]++;
        s[k][b] += ok;
      },
    };
  }
  if (name === 'ema') {
    // The earlier design: EMA (weight 0.1) of success and response time, composite
    // 0.6·success + 0.4·max(0, 1 − seconds/1000), 3 samples per bot before trusting it,
    // confidence min(1, top − second + 0.5).
    const sr = TYPES.map(() => new Float64Array(NBOTS).fill(0.5));
    const rt = TYPES.map(() => new Float64Array(NBOTS));
    return {
      choose(k) {
        for (let b = 0; b < NBOTS; b++) if (n[k][b] < 3) return { bot: b, conf: 0 };
        const comp = Array.from(sr[k], (x, b) => 0.6 * x + 0.4 * Math.max(0, 1 - rt[k][b] / 1000));
        const bot = argmaxRandomTie(comp, r);
        const sorted = [...comp].sort((a, b) => b - a);
        return { bot, conf: Math.min(1, sorted[0] - sorted[1] + 0.5) };
      },
      update(k, b, ok, seconds) {
        sr[k][b] = n[k][b] === 0 ? ok : 0.9 * sr[k][b] + 0.1 * ok;
        rt[k][b] = n[k][b] === 0 ? seconds : 0.9 * rt[k][b] + 0.1 * seconds;
        n[k][b]++;
      },
    };
  }
  if (name === 'thompson') {
    return {
      choose(k, wantConf) {
        const draw = () => Array.from(n[k], (c, b) => lib.beta(1 + s[k][b], 1 + c - s[k][b], r));
        const bot = argmaxRandomTie(draw(), r);
        let conf;
        if (wantConf) {
          let wins = 0;
          for (let i = 0; i < 200; i++) if (argmaxRandomTie(draw(), r) === bot) wins++;
          conf = wins / 200;
        }
        return { bot, conf };
      },
      update(k, b, ok) {
        n[k][b]++;
        s[k][b] += ok;
      },
    };
  }
  if (name === 'swucb') {
    // Sliding-window UCB (Garivier & Moulines), window 500 plays of the type, ξ = 0.6.
    const W = 500;
    const hist = TYPES.map(() => []);
    const plays = new Float64Array(K);
    return {
      choose(k) {
        for (let b = 0; b < NBOTS; b++) if (n[k][b] === 0) return { bot: b };
        const lg = Math.log(Math.min(plays[k], W));
        return { bot: argmaxRandomTie(Array.from(n[k], (c, b) => s[k][b] / c + Math.sqrt((0.6 * lg) / c)), r) };
      },
      update(k, b, ok) {
        plays[k]++;
        hist[k].push(b, ok);
        n[k][b]++;
        s[k][b] += ok;
        if (hist[k].length > 2 * W) {
          const ob = hist[k].shift();
          const ook = hist[k].shift();
          n[k][ob]--;
          s[k][ob] -= ook;
        }
      },
    };
  }
  throw new Error(`unknown policy ${name}`);
}

function makeDeia(lib, seed, params) {
  const r = lib.mulberry32(seed ^ 0x2545f491);
  const state = lib.emptyState();
  return {
    choose(k, wantConf, now, load) {
      const inProgress = {};
      for (let b = 0; b < NBOTS; b++) inProgress[BOTS[b]] = load[b];
      const rec = lib.decide(state, TYPES[k], BOTS, { inProgress }, params, r, now, { confidence: wantConf });
      return { bot: BOTS.indexOf(rec.recommended_bot), conf: rec.confidence };
    },
    update(k, b, ok, _seconds, now, load) {
      lib.foldOutcome(state, { bot: BOTS[b], type: TYPES[k], success: ok === 1, at: now, load }, params);
    },
  };
}

/** The simulator's policy parameters: the config defaults, except speed and cost (regret counts success only). */
export function simParams(lib, overrides = {}) {
  const cfg = { ...lib.defaultsOf(lib.schedulingSection), speed_weight: 0, cost_weight: 0, ...overrides };
  return lib.paramsFromConfig(cfg);
}

// ------------------------------------------------------------------ running

/**
 * Run one policy through one environment. Returns regret, best-pick rate, recovery delays and
 * Brier score of confidence (policies that state one).
 */
export function runPolicy(env, name, lib, params, opts = {}) {
  const { T, types, luck, prob, scenario } = env;
  const confEvery = opts.confEvery ?? 10;
  const pol = name === 'deia' ? makeDeia(lib, env.seed, params) : makeBaseline(name, lib, env.seed);
  const recent = new Int8Array(LOAD_WINDOW).fill(-1);
  const load = new Array(NBOTS).fill(0);
  const p = new Float64Array(NBOTS);
  let regret = 0;
  let bestPicks = 0;
  let brier = 0;
  let brierN = 0;
  // recovery: per type, the best bot last seen, and an open change waiting for 3 right picks in a row.
  const lastBest = new Int8Array(TYPES.length).fill(-1);
  const open = TYPES.map(() => null);
  const delays = [];
  for (let t = 0; t < T; t++) {
    const k = types[t];
    const now = t * MINUTE;
    let best = 0;
    for (let b = 0; b < NBOTS; b++) {
      let q = prob(t, k, b);
      if (scenario === 'S4' && load[b] > OVERLOAD_SHARE * LOAD_WINDOW) q *= OVERLOAD_FACTOR;
      p[b] = q;
      if (q > p[best]) best = b;
    }
    if (scenario !== 'S0' && scenario !== 'S4') {
      if (lastBest[k] !== -1 && lastBest[k] !== best) {
        if (open[k]) delays.push(open[k].elapsed);
        open[k] = { elapsed: 0, run: 0 };
      }
      lastBest[k] = best;
    }
    const wantConf = t % confEvery === 0;
    const { bot, conf } = pol.choose(k, wantConf, now, load);
    regret += p[best] - p[bot];
    const isBest = p[bot] >= p[best];
    if (isBest) bestPicks++;
    if (wantConf && conf !== undefined) {
      brier += (conf - (isBest ? 1 : 0)) ** 2;
      brierN++;
    }
    if (open[k]) {
      open[k].elapsed++;
      open[k].run = isBest ? open[k].run + 1 : 0;
      if (open[k].run >= 3) {
        delays.push(open[k].elapsed);
        open[k] = null;
      }
    }
    const ok = luck[t * NBOTS + bot] < p[bot] ? 1 : 0;
    // The bot's load when it took the task, recorded with the outcome (Outcome.load): the evidence
    // the policy uses to decide whether load hurts (docs/scheduling.md).
    pol.update(k, bot, ok, env.dur[k][bot] * 60 * env.durLuck[t], now, load[bot]);
    const slot = t % LOAD_WINDOW;
    if (recent[slot] >= 0) load[recent[slot]]--;
    recent[slot] = bot;
    load[bot]++;
  }
  for (const o of open) if (o) delays.push(o.elapsed);
  return {
    regret,
    bestPickRate: bestPicks / T,
    recovery: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : null,
    brier: brierN ? brier / brierN : null,
  };
}

export function meanCI(xs) {
  const v = xs.filter((x) => x !== null && x !== undefined);
  if (v.length === 0) return null;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return { mean: m, ci: (1.96 * sd) / Math.sqrt(v.length), n: v.length };
}

/** Every policy on every scenario over `envs` seeded environments of `tasks` tasks. */
export function runAll(lib, { envs = 30, tasks = 10_000, scenarios = SCENARIOS, policies = POLICIES, params, onProgress } = {}) {
  const prm = params ?? simParams(lib);
  const out = {};
  for (const sc of scenarios) {
    out[sc] = {};
    const per = Object.fromEntries(policies.map((pn) => [pn, []]));
    for (let e = 0; e < envs; e++) {
      const env = makeEnv(sc, e + 1, tasks, lib);
      for (const pn of policies) per[pn].push(runPolicy(env, pn, lib, prm));
      onProgress?.(sc, e);
    }
    for (const pn of policies) {
      const rs = per[pn];
      out[sc][pn] = {
        regret: meanCI(rs.map((x) => x.regret)),
        best_pick_rate: meanCI(rs.map((x) => x.bestPickRate)),
        recovery_delay: meanCI(rs.map((x) => x.recovery)),
        brier: meanCI(rs.map((x) => x.brier)),
      };
    }
  }
  return out;
}
