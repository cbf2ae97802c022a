// `npm run bench:routing`: the routing regret benchmark (issue 4).
// Compiles the pure policy (src/scheduling/policy.ts, random.ts and the config defaults) with
// esbuild — the same code `deia recommend` runs — and simulates every policy on the same luck.
// Options: --envs N (30) --tasks N (10000) --scenarios S0,S1 --policies deia,thompson
//          --set key=value (override a scheduling config key, for tuning) --no-write
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './lib.mjs';
import { POLICIES, SCENARIOS, SCENARIO_NAMES, runAll, simParams } from './routing-sim.mjs';

export async function loadPolicyLib() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-routing-'));
  const outfile = path.join(tmp, 'policy.mjs');
  await build({
    stdin: {
      contents: [
        "export * from './src/scheduling/policy.ts';",
        "export * from './src/scheduling/random.ts';",
        "export { schedulingSection } from './src/scheduling/config.ts';",
        "export { defaultsOf } from './src/config/schema.ts';",
      ].join('\n'),
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
  });
  const lib = await import(pathToFileURL(outfile).href);
  fs.rmSync(tmp, { recursive: true, force: true });
  return lib;
}

function parseArgs(argv) {
  const o = { envs: 30, tasks: 10_000, scenarios: SCENARIOS, policies: POLICIES, set: {}, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--envs') o.envs = Number(argv[++i]);
    else if (a === '--tasks') o.tasks = Number(argv[++i]);
    else if (a === '--scenarios') o.scenarios = argv[++i].split(',');
    else if (a === '--policies') o.policies = argv[++i].split(',');
    else if (a === '--set') {
      const [k, v] = argv[++i].split('=');
      o.set[k] = Number.isNaN(Number(v)) ? v : Number(v);
    } else if (a === '--no-write') o.write = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const fmt = (m, d = 0) => (m ? `${m.mean.toFixed(d)} ± ${m.ci.toFixed(d)}` : '–');

export function renderTable(results, policies) {
  const lines = [];
  const scen = Object.keys(results);
  lines.push('Dynamic regret (mean ± 95% CI; lower is better; * = lowest)');
  const head = ['policy', ...scen.map((s) => `${s} ${SCENARIO_NAMES[s]}`)];
  const rows = policies.map((pn) => [pn, ...scen.map((s) => fmt(results[s][pn].regret))]);
  for (const s of scen) {
    const best = Math.min(...policies.map((pn) => results[s][pn].regret.mean));
    rows.forEach((r, i) => {
      const j = scen.indexOf(s) + 1;
      if (results[s][policies[i]].regret.mean === best) r[j] += ' *';
    });
  }
  lines.push(...table(head, rows));
  lines.push('');
  lines.push('Best-pick rate, recovery delay (tasks of the type until 3 right picks in a row after the best bot changed), Brier score of confidence');
  const head2 = ['policy', ...scen.map((s) => `${s} best% / recov / brier`)];
  const rows2 = policies.map((pn) => [
    pn,
    ...scen.map((s) => {
      const r = results[s][pn];
      return `${(r.best_pick_rate.mean * 100).toFixed(1)}% / ${r.recovery_delay ? r.recovery_delay.mean.toFixed(0) : '–'} / ${r.brier ? r.brier.mean.toFixed(3) : '–'}`;
    }),
  ]);
  lines.push(...table(head2, rows2));
  return lines.join('\n');
}

function table(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.map(line)];
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = parseArgs(process.argv.slice(2));
  const lib = await loadPolicyLib();
  const params = simParams(lib, o.set);
  const t0 = Date.now();
  const results = runAll(lib, {
    envs: o.envs,
    tasks: o.tasks,
    scenarios: o.scenarios,
    policies: o.policies,
    params,
    onProgress: (sc, e) => process.stderr.write(`\r${sc} env ${e + 1}/${o.envs}   `),
  });
  process.stderr.write('\n');
  const seconds = (Date.now() - t0) / 1000;
  console.log(renderTable(results, o.policies));
  // The goal: deia at or below the best baseline in every scenario, below all of them in S1 and S4.
  const verdict = {};
  for (const s of Object.keys(results)) {
    const base = o.policies.filter((p) => p !== 'deia').map((p) => results[s][p].regret.mean);
    if (!results[s].deia || base.length === 0) continue;
    const d = results[s].deia.regret.mean;
    verdict[s] = { deia: d, best_baseline: Math.min(...base), ok: d <= Math.min(...base) };
  }
  console.log('\nGoal (deia ≤ best baseline):', Object.entries(verdict).map(([s, v]) => `${s} ${v.ok ? 'yes' : 'NO'}`).join(', '));
  console.log(`${o.envs} environments × ${o.tasks} tasks × ${o.scenarios.length} scenarios × ${o.policies.length} policies in ${seconds.toFixed(1)} s`);
  if (o.write) {
    fs.writeFileSync(
      path.join(root, 'bench/routing-results.json'),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          envs: o.envs,
          tasks: o.tasks,
          seconds,
          params: Object.fromEntries(Object.entries(params)),
          config_overrides: { speed_weight: 0, cost_weight: 0, ...o.set },
          results,
          verdict,
        },
        null,
        2,
      ) + '\n',
    );
  }
}
