// The routing regret simulator (issues 4 and 14). In-process, but on the production path: `lib`
// is bench/routing-entry.ts (bundled), and deia's every step goes the way `task done` and
// `deia recommend` go — the outcome becomes a performance.jsonl record by the same validation
// (toRecord: finish time, duration start→done in whole ms), is folded by the same function
// `catchUp` uses (outcomeOf + foldOutcome), health levels come from the same health code on
// its default thresholds (buildInputs + evaluate over the same records; routingLevelsOf), and
// the pick is `decide` with the default config. Outcomes arrive when a task finishes, not
// when it is assigned, for every policy alike. Load is not recorded by production, so it is
// not given to any policy (S4 still makes loaded bots fail more: no policy sees why).
// bench/routing.mjs runs the full benchmark; test/scheduling-regret.test.ts a small one.

export const TYPES = ['code', 'analysis', 'writing', 'planning', 'testing', 'documentation', 'other'];
export const MIX = [0.3, 0.15, 0.15, 0.1, 0.15, 0.1, 0.05];
export const SCENARIOS = ['S0', 'S1', 'S2', 'S3', 'S4', 'O100', 'O300', 'O1000', 'DRIFT', 'HEAVY', 'COLD', 'TIED'];
export const SCENARIO_NAMES = {
  S0: 'stationary',
  S1: 'abrupt swaps',
  S2: 'gradual drift',
  S3: 'random outages',
  S4: 'overload',
  O100: 'star out 100 tasks',
  O300: 'star out 300 tasks',
  O1000: 'star out 1,000 tasks',
  DRIFT: 'linear drift, two swaps',
  HEAVY: 'heavy-tailed durations',
  COLD: '20-bot cold start',
  TIED: 'two tied bots',
};
export const POLICIES = ['random', 'greedy', 'ema', 'thompson', 'dts', 'swucb', 'deia'];
export const POLICY_NAMES = {
  random: 'random',
  greedy: 'greedy',
  ema: 'seed EMA',
  thompson: 'Beta Thompson',
  dts: 'discounted Thompson (0.99)',
  swucb: 'sliding-window UCB',
  deia: 'deia (production path)',
};
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// S4: a bot that took more than OVERLOAD_OVER of the last LOAD_WINDOW tasks succeeds half as often.
const LOAD_WINDOW = 50;
const OVERLOAD_OVER = 22;
const OVERLOAD_FACTOR = 0.5;
const OUTAGE_AT = 1000;
const AFTER_OUTAGE = 3000;

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/** Tasks a scenario runs (`tasks` for the long-running ones). */
export function tasksOf(scenario, tasks) {
  if (scenario.startsWith('O')) return OUTAGE_AT + Number(scenario.slice(1)) + AFTER_OUTAGE;
  if (scenario === 'COLD') return 200;
  if (scenario === 'TIED') return 3000;
  return tasks;
}

/**
 * One environment: everything random is drawn here, once, so every policy meets the same luck
 * (task types, the uniform deciding each bot's success on each task, durations, drift, outages).
 * `prob(t, k, b)` is the success probability before load effects; `timeCost[k][b]` the expected
 * time cost of a task (HEAVY only: its utility is success − price × expected hours, the price
 * being the one the user configured, `duration_cost_per_hour`).
 */
export function makeEnv(scenario, seed, T, lib, price = 0.1) {
  const r = lib.mulberry32(seed * 7919 + scenario.split('').reduce((a, c) => a * 31 + c.charCodeAt(0), 7));
  const gauss = lib.normal;
  const single = scenario === 'COLD' || scenario === 'TIED';
  const nb = scenario === 'COLD' ? 20 : 5;
  const nk = single ? 1 : TYPES.length;
  const p0 = Array.from({ length: nk }, () => Array.from({ length: nb }, () => 0.3 + 0.6 * r()));
  const baseDur = Array.from({ length: nk }, () => (3 + 27 * r()) * MINUTE);
  const types = new Uint8Array(T);
  const luck = new Float32Array(T * nb);
  const durLuck = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let k = 0;
    if (!single) {
      let u = r();
      while (k < MIX.length - 1 && u >= MIX[k]) u -= MIX[k++];
    }
    types[t] = k;
    for (let b = 0; b < nb; b++) luck[t * nb + b] = r();
    durLuck[t] = r();
  }
  const timeCost = Array.from({ length: nk }, () => new Float64Array(nb));
  // Durations as `task done` records them (start → done). Bot-independent except in HEAVY.
  let durOf = (t, k) => Math.round(baseDur[k] * -Math.log(1 - durLuck[t] * 0.999));
  let prob = (_t, k, b) => p0[k][b];
  const env = { scenario, seed, T, nb, nk, types, luck, timeCost, star: -1, outage: null };
  if (scenario === 'S1') {
    // Every 2,000 tasks the best and worst bot of each type swap.
    const segs = [];
    let cur = p0.map((row) => row.slice());
    for (let s = 0; s * 2000 < T; s++) {
      segs.push(cur);
      cur = cur.map((row) => {
        const out = row.slice();
        let hi = 0;
        let lo = 0;
        for (let b = 1; b < nb; b++) {
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
    // One bot improves by +0.35, one declines by -0.35 over the run; a small random walk on top.
    const up = Math.floor(r() * nb);
    let down = Math.floor(r() * (nb - 1));
    if (down >= up) down++;
    const steps = Math.ceil(T / 100) + 1;
    const walk = new Float32Array(steps * nk * nb);
    for (let s = 1; s < steps; s++) for (let i = 0; i < nk * nb; i++) walk[s * nk * nb + i] = walk[(s - 1) * nk * nb + i] + 0.01 * gauss(r);
    prob = (t, k, b) => {
      const drift = b === up ? 0.35 : b === down ? -0.35 : 0;
      return clamp(p0[k][b] + (drift * t) / T + walk[Math.floor(t / 100) * nk * nb + k * nb + b], 0.02, 0.98);
    };
  } else if (scenario === 'S3') {
    // Per bot up/down chain: down with 0.002 per task, up again with 0.05; down = success 0.05.
    const down = new Uint8Array(T * nb);
    const st = new Uint8Array(nb);
    for (let t = 0; t < T; t++)
      for (let b = 0; b < nb; b++) {
        const u = r();
        if (st[b] === 0 && u < 0.002) st[b] = 1;
        else if (st[b] === 1 && u < 0.05) st[b] = 0;
        down[t * nb + b] = st[b];
      }
    prob = (t, k, b) => (down[t * nb + b] ? 0.05 : p0[k][b]);
  } else if (scenario.startsWith('O')) {
    // A star bot (0.9 on every type; the others 0.3-0.7) fails everything for L tasks, then recovers.
    const L = Number(scenario.slice(1));
    for (const row of p0) for (let b = 0; b < nb; b++) row[b] = b === 0 ? 0.9 : 0.3 + 0.4 * ((row[b] - 0.3) / 0.6);
    env.star = 0;
    env.outage = [OUTAGE_AT, OUTAGE_AT + L];
    prob = (t, k, b) => (b === 0 && t >= OUTAGE_AT && t < OUTAGE_AT + L ? 0.05 : p0[k][b]);
  } else if (scenario === 'DRIFT') {
    // Bots 0 and 1 drift linearly (a triangle over the run) and cross twice, at T/4 and 3T/4.
    for (const row of p0) for (let b = 2; b < nb; b++) row[b] = 0.3 + 0.25 * ((row[b] - 0.3) / 0.6);
    prob = (t, k, b) => {
      const tri = 1 - Math.abs((2 * t) / T - 1);
      if (b === 0) return 0.85 - 0.4 * tri;
      if (b === 1) return 0.45 + 0.4 * tri;
      return p0[k][b];
    };
  } else if (scenario === 'HEAVY') {
    // Similar success; durations differ: a median of 5-30 min, and for some bots a tail of
    // 2-4 hours on 10-30 % of tasks, so the median hides what the mean shows.
    const med = p0.map(() => Array.from({ length: nb }, () => (5 + 25 * r()) * MINUTE));
    const tailP = p0.map(() => Array.from({ length: nb }, () => (r() < 0.5 ? 0.1 + 0.2 * r() : 0)));
    const tailLen = p0.map(() => Array.from({ length: nb }, () => (2 + 2 * r()) * HOUR));
    for (const row of p0) for (let b = 0; b < nb; b++) row[b] = 0.6 + 0.2 * ((row[b] - 0.3) / 0.6);
    durOf = (t, k, b) => {
      const u = durLuck[t];
      const q = tailP[k][b];
      if (u < q) return Math.round(tailLen[k][b] * (0.75 + 0.5 * (u / q)));
      return Math.round((med[k][b] / Math.LN2) * -Math.log(1 - ((u - q) / (1 - q)) * 0.999));
    };
    for (let k = 0; k < nk; k++)
      for (let b = 0; b < nb; b++) {
        const mean = tailP[k][b] * tailLen[k][b] + (1 - tailP[k][b]) * (med[k][b] / Math.LN2);
        timeCost[k][b] = (price * mean) / HOUR;
      }
  } else if (scenario === 'TIED') {
    // Two equally good bots; the rest clearly worse.
    for (const row of p0) for (let b = 0; b < nb; b++) row[b] = b < 2 ? 0.8 : 0.35 + 0.25 * ((row[b] - 0.3) / 0.6);
  }
  env.prob = prob;
  env.durOf = durOf;
  return env;
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

/** Baselines learn from a reward: success (1/0), less the time cost where the scenario prices time. */
function makeBaseline(name, lib, seed, nb, nk) {
  const r = lib.mulberry32(seed ^ 0x5bd1e995);
  const n = Array.from({ length: nk }, () => new Float64Array(nb));
  const s = Array.from({ length: nk }, () => new Float64Array(nb));
  if (name === 'random') return { choose: () => ({ bot: Math.floor(r() * nb) }), update() {} };
  if (name === 'greedy') {
    return {
      choose(k) {
        for (let b = 0; b < nb; b++) if (n[k][b] === 0) return { bot: b };
        return { bot: argmaxRandomTie(Array.from(n[k], (c, b) => s[k][b] / c), r) };
      },
      update(k, b, rew) {
        n[k][b]++;
        s[k][b] += rew;
      },
    };
  }
  if (name === 'ema') {
    // The earlier design: EMA (weight 0.1) of success and response time, composite
    // 0.6·success + 0.4·max(0, 1 − seconds/1000), 3 samples per bot before trusting it,
    // confidence min(1, top − second + 0.5).
    const sr = Array.from({ length: nk }, () => new Float64Array(nb).fill(0.5));
    const rt = Array.from({ length: nk }, () => new Float64Array(nb));
    return {
      choose(k) {
        for (let b = 0; b < nb; b++) if (n[k][b] < 3) return { bot: b, conf: 0 };
        const comp = Array.from(sr[k], (x, b) => 0.6 * x + 0.4 * Math.max(0, 1 - rt[k][b] / 1000));
        const bot = argmaxRandomTie(comp, r);
        const sorted = [...comp].sort((a, b) => b - a);
        return { bot, conf: Math.min(1, sorted[0] - sorted[1] + 0.5) };
      },
      update(k, b, _rew, ok, seconds) {
        sr[k][b] = n[k][b] === 0 ? ok : 0.9 * sr[k][b] + 0.1 * ok;
        rt[k][b] = n[k][b] === 0 ? seconds : 0.9 * rt[k][b] + 0.1 * seconds;
        n[k][b]++;
      },
    };
  }
  if (name === 'thompson' || name === 'dts') {
    // Beta Thompson sampling; `dts` discounts every bot's counts of the type by 0.99 per outcome
    // (Raj & Kalyani). A reward in [0, 1] is turned into a Bernoulli trial (Agrawal & Goyal).
    const gamma = name === 'dts' ? 0.99 : 1;
    const f = Array.from({ length: nk }, () => new Float64Array(nb));
    return {
      choose(k, wantConf) {
        const draw = () => Array.from(s[k], (x, b) => lib.beta(1 + x, 1 + f[k][b], r));
        const bot = argmaxRandomTie(draw(), r);
        let conf;
        if (wantConf) {
          let wins = 0;
          for (let i = 0; i < 200; i++) if (argmaxRandomTie(draw(), r) === bot) wins++;
          conf = wins / 200;
        }
        return { bot, conf };
      },
      update(k, b, rew) {
        if (gamma < 1)
          for (let i = 0; i < nb; i++) {
            s[k][i] *= gamma;
            f[k][i] *= gamma;
          }
        if (r() < clamp(rew, 0, 1)) s[k][b] += 1;
        else f[k][b] += 1;
      },
    };
  }
  if (name === 'swucb') {
    // Sliding-window UCB (Garivier & Moulines), window 500 plays of the type, ξ = 0.6.
    const W = 500;
    const hist = Array.from({ length: nk }, () => []);
    const plays = new Float64Array(nk);
    return {
      choose(k) {
        for (let b = 0; b < nb; b++) if (n[k][b] === 0) return { bot: b };
        const lg = Math.log(Math.min(plays[k], W));
        return { bot: argmaxRandomTie(Array.from(n[k], (c, b) => s[k][b] / c + Math.sqrt((0.6 * lg) / c)), r) };
      },
      update(k, b, rew) {
        plays[k]++;
        hist[k].push(b, rew);
        n[k][b]++;
        s[k][b] += rew;
        if (hist[k].length > 2 * W) {
          const ob = hist[k].shift();
          const orew = hist[k].shift();
          n[k][ob]--;
          s[k][ob] -= orew;
        }
      },
    };
  }
  throw new Error(`unknown policy ${name}`);
}

/**
 * deia as users run it: outcomes stored by `toRecord` (what `task done` writes) and folded by
 * `outcomeOf` + `foldOutcome` (what every command's catch-up does); health levels from the
 * health code on its default thresholds over the same records; `decide` with the config.
 */
function makeDeia(lib, seed, params, cfg, bots, typeNames) {
  const r = lib.mulberry32(seed ^ 0x2545f491);
  const state = lib.emptyState();
  const hagg = lib.emptyAgg();
  let levels = lib.emptyLevelState();
  let health = {};
  let fresh = false;
  let lastPrune = 0;
  return {
    state,
    choose(k, wantConf, now) {
      if (fresh) {
        if (now - lastPrune >= HOUR) {
          lib.prune(hagg, now, Math.max(cfg.health.history_minutes, cfg.health.window_minutes));
          lastPrune = now;
        }
        const res = lib.evaluate(lib.buildInputs(hagg, {}, cfg.health, now), { cfg: cfg.health, now, prev: levels });
        levels = res.state;
        health = lib.routingLevelsOf(res.report);
        fresh = false;
      }
      const rec = lib.decide(state, typeNames[k], bots, { health }, params, r, now, { confidence: wantConf });
      return { bot: bots.indexOf(rec.recommended_bot), conf: rec.confidence };
    },
    update(k, b, _rew, ok, _seconds, finish, durMs) {
      const record = lib.toRecord({ bot: bots[b], type: typeNames[k], success: ok === 1, durationMs: durMs, at: finish }, finish);
      lib.foldOutcome(state, lib.outcomeOf(record), params);
      lib.foldPerf(hagg, record);
      fresh = true;
    },
  };
}

/** The simulator's parameters: the config defaults (production), with `--set` overrides for tuning. */
export function simConfig(lib, overrides = {}) {
  const cfg = lib.defaultConfig();
  cfg.scheduling = { ...cfg.scheduling, ...overrides };
  return { cfg, params: lib.paramsFromConfig(cfg.scheduling) };
}

// ------------------------------------------------------------------ running

/**
 * Run one policy through one environment. Returns regret, best-pick rate, recovery delays,
 * confidence pairs (Brier, reliability) and scenario-specific measures.
 */
export function runPolicy(env, name, lib, sim, opts = {}) {
  const { T, nb, types, luck, prob, scenario, timeCost } = env;
  const confEvery = opts.confEvery ?? 10;
  const single = env.nk === 1;
  const typeNames = single ? ['code'] : TYPES;
  const bots = Array.from({ length: nb }, (_, i) => `BOT-${i + 1}`);
  const pol = name === 'deia' ? makeDeia(lib, env.seed, sim.params, sim.cfg, bots, typeNames) : makeBaseline(name, lib, env.seed, nb, env.nk);
  const recent = new Int8Array(LOAD_WINDOW).fill(-1);
  const load = new Array(nb).fill(0);
  const p = new Float64Array(nb);
  const u = new Float64Array(nb);
  const pending = []; // [finish, k, b, rew, ok, seconds, durMs], sorted by finish
  let regret = 0;
  let bestPicks = 0;
  let brier = 0;
  let brierN = 0;
  const rel = Array.from({ length: 10 }, () => [0, 0, 0]); // sum conf, truly best, count
  // recovery: per type, the best bot last seen, and an open change waiting for 3 right picks in a row.
  const lastBest = new Int8Array(env.nk).fill(-1);
  const open = Array.from({ length: env.nk }, () => null);
  const delays = [];
  // outages: tasks after the star recovered until it had half of the last 20 picks again.
  let refound = null;
  const starWin = new Int8Array(20);
  let starIn = 0;
  // ties: longest run of one tied bot, and the minority bot's share of the tied picks.
  let run = 0;
  let runBot = -1;
  let longestRun = 0;
  const tiedPicks = [0, 0];
  for (let t = 0; t < T; t++) {
    const k = types[t];
    const now = t * MINUTE;
    while (pending.length && pending[0][0] <= now) {
      const [fin, pk, pb, rew, ok, secs, durMs] = pending.shift();
      pol.update(pk, pb, rew, ok, secs, fin, durMs);
    }
    let best = 0;
    for (let b = 0; b < nb; b++) {
      let q = prob(t, k, b);
      if (scenario === 'S4' && load[b] > OVERLOAD_OVER) q *= OVERLOAD_FACTOR;
      p[b] = q;
      u[b] = q - timeCost[k][b];
      if (u[b] > u[best]) best = b;
    }
    if (scenario !== 'S0' && scenario !== 'S4' && scenario !== 'COLD' && scenario !== 'TIED') {
      if (lastBest[k] !== -1 && lastBest[k] !== best) {
        if (open[k]) delays.push(open[k].elapsed);
        open[k] = { elapsed: 0, run: 0 };
      }
      lastBest[k] = best;
    }
    const wantConf = t % confEvery === 0;
    const { bot, conf } = pol.choose(k, wantConf, now);
    regret += u[best] - u[bot];
    opts.trace?.(t, k, bot, best, u, pol);
    const isBest = u[bot] >= u[best] - 1e-12;
    if (isBest) bestPicks++;
    if (wantConf && conf !== undefined) {
      brier += (conf - (isBest ? 1 : 0)) ** 2;
      brierN++;
      const bucket = rel[Math.min(9, Math.floor(conf * 10))];
      bucket[0] += conf;
      bucket[1] += isBest ? 1 : 0;
      bucket[2]++;
    }
    if (open[k]) {
      open[k].elapsed++;
      open[k].run = isBest ? open[k].run + 1 : 0;
      if (open[k].run >= 3) {
        delays.push(open[k].elapsed);
        open[k] = null;
      }
    }
    if (env.outage && t >= env.outage[1] && refound === null) {
      const slot = t % 20;
      starIn += (bot === env.star ? 1 : 0) - starWin[slot];
      starWin[slot] = bot === env.star ? 1 : 0;
      if (starIn >= 10) refound = t - env.outage[1];
    }
    if (scenario === 'TIED' && bot < 2) {
      tiedPicks[bot]++;
      if (bot === runBot) run++;
      else {
        runBot = bot;
        run = 1;
      }
      longestRun = Math.max(longestRun, run);
    }
    const ok = luck[t * nb + bot] < p[bot] ? 1 : 0;
    const durMs = env.durOf(t, k, bot);
    const rew = ok - (scenario === 'HEAVY' ? (sim.params.durationCostPerHour * durMs) / HOUR : 0);
    const fin = now + durMs;
    let i = pending.length;
    while (i > 0 && pending[i - 1][0] > fin) i--;
    pending.splice(i, 0, [fin, k, bot, rew, ok, durMs / 1000, durMs]);
    const slot = t % LOAD_WINDOW;
    if (recent[slot] >= 0) load[recent[slot]]--;
    recent[slot] = bot;
    load[bot]++;
  }
  for (const o of open) if (o) delays.push(o.elapsed);
  const out = {
    regret,
    bestPickRate: bestPicks / T,
    recovery: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : null,
    brier: brierN ? brier / brierN : null,
    rel: brierN ? rel : null,
  };
  if (env.outage) {
    out.refound = refound ?? T - env.outage[1];
    out.never = refound === null ? 1 : 0;
  }
  if (scenario === 'TIED') {
    out.longestRun = longestRun;
    out.minorityShare = tiedPicks[0] + tiedPicks[1] ? Math.min(...tiedPicks) / (tiedPicks[0] + tiedPicks[1]) : 0;
  }
  return out;
}

/** Mean and standard error. */
export function meanSE(xs) {
  const v = xs.filter((x) => x !== null && x !== undefined);
  if (v.length === 0) return null;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return { mean: m, se: sd / Math.sqrt(v.length), n: v.length };
}

/** Seeds: the report uses 1..envs; tuning (`tune`) uses 1001..1000+envs, so defaults are never judged on the seeds they were tuned on. */
export function seedsOf(envs, tune = false) {
  return Array.from({ length: envs }, (_, i) => (tune ? 1001 : 1) + i);
}

/** Every policy on every scenario over `envs` seeded environments. */
export function runAll(lib, { envs = 30, tasks = 10_000, scenarios = SCENARIOS, policies = POLICIES, overrides = {}, tune = false, onProgress } = {}) {
  const sim = simConfig(lib, overrides);
  const out = {};
  for (const sc of scenarios) {
    out[sc] = {};
    const per = Object.fromEntries(policies.map((pn) => [pn, []]));
    const T = tasksOf(sc, tasks);
    for (const seed of seedsOf(envs, tune)) {
      const env = makeEnv(sc, seed, T, lib, sim.params.durationCostPerHour);
      for (const pn of policies) per[pn].push(runPolicy(env, pn, lib, sim));
      onProgress?.(sc, seed);
    }
    for (const pn of policies) {
      const rs = per[pn];
      const row = {
        tasks: T,
        regret: meanSE(rs.map((x) => x.regret)),
        best_pick_rate: meanSE(rs.map((x) => x.bestPickRate)),
        recovery_delay: meanSE(rs.map((x) => x.recovery)),
        brier: meanSE(rs.map((x) => x.brier)),
      };
      if (rs[0].rel) {
        row.reliability = Array.from({ length: 10 }, (_, i) => {
          const c = rs.reduce((a, x) => a + x.rel[i][2], 0);
          return { bucket: `${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)}`, n: c, mean_confidence: c ? rs.reduce((a, x) => a + x.rel[i][0], 0) / c : null, truly_best: c ? rs.reduce((a, x) => a + x.rel[i][1], 0) / c : null };
        });
      }
      if (rs[0].refound !== undefined) {
        row.refound = meanSE(rs.map((x) => x.refound));
        row.never_refound = rs.reduce((a, x) => a + x.never, 0) / rs.length;
      }
      if (rs[0].longestRun !== undefined) {
        row.longest_run = meanSE(rs.map((x) => x.longestRun));
        row.minority_share = meanSE(rs.map((x) => x.minorityShare));
      }
      out[sc][pn] = row;
    }
  }
  return out;
}
