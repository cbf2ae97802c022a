// Tuning helper for the routing defaults (issue 14): runs deia with config overrides on the
// TUNING seeds (1001+), never the report's, against the best baseline on the same seeds.
// node bench/routing-tune.mjs --envs 4 --tasks 3000 "exploration=0.5,idle_half_life=60" "exploration=0.25"
import { loadPolicyLib } from './routing.mjs';
import { POLICIES, SCENARIOS, runAll } from './routing-sim.mjs';

const args = process.argv.slice(2);
let envs = 4;
let tasks = 3000;
let scenarios = SCENARIOS;
const configs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--envs') envs = Number(args[++i]);
  else if (args[i] === '--tasks') tasks = Number(args[++i]);
  else if (args[i] === '--scenarios') scenarios = args[++i].split(',');
  else configs.push(args[i]);
}
const lib = await loadPolicyLib();
const base = runAll(lib, { envs, tasks, scenarios, tune: true, policies: POLICIES.filter((p) => p !== 'deia') });
const best = Object.fromEntries(scenarios.map((s) => [s, Math.min(...Object.values(base[s]).map((r) => r.regret.mean))]));
for (const c of configs.length ? configs : ['']) {
  const overrides = Object.fromEntries(c.split(',').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  const res = runAll(lib, { envs, tasks, scenarios, tune: true, policies: ['deia'], overrides });
  const ratios = scenarios.map((s) => res[s].deia.regret.mean / best[s]);
  const gm = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
  console.log(`${c || 'defaults'}: geo-mean ${gm.toFixed(2)} max ${Math.max(...ratios).toFixed(2)} | ` + scenarios.map((s, i) => `${s} ${ratios[i].toFixed(2)}`).join(' '));
}
