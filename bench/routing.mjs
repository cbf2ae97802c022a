// `npm run bench:routing`: the routing regret benchmark (issues 4 and 14).
// Bundles bench/routing-entry.ts with esbuild — the production code of record, recommend and
// health — and simulates every policy on the same luck (bench/routing-sim.mjs).
// Options: --quick (8 environments, 3,000 tasks: for iteration) --envs N (12) --tasks N (4000)
//          --scenarios S0,O300 --policies deia,thompson --tune (tuning seeds 1001+, not the report's)
//          --set key=value (override a scheduling config key, for tuning) --no-write
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './lib.mjs';
import { POLICIES, POLICY_NAMES, SCENARIOS, SCENARIO_NAMES, runAll } from './routing-sim.mjs';

export async function loadPolicyLib() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-routing-'));
  const outfile = path.join(tmp, 'policy.mjs');
  await build({
    entryPoints: [path.join(root, 'bench/routing-entry.ts')],
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
  const o = { envs: 12, tasks: 4000, scenarios: SCENARIOS, policies: POLICIES, set: {}, write: true, tune: false, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--envs') o.envs = Number(argv[++i]);
    else if (a === '--tasks') o.tasks = Number(argv[++i]);
    else if (a === '--quick') {
      o.quick = true;
      o.envs = 8;
      o.tasks = 3000;
    } else if (a === '--tune') o.tune = true;
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

const fmt = (m, d = 0) => (m ? `${m.mean.toFixed(d)} ± ${m.se.toFixed(d)}` : '–');

export function renderTable(results, policies) {
  const lines = [];
  const scen = Object.keys(results);
  const base = policies.filter((p) => p !== 'deia');
  lines.push('Dynamic regret per scenario (mean ± standard error over environments; lower is better; * = lowest)');
  const head = ['scenario', 'tasks', ...policies, ...(policies.includes('deia') && base.length ? ['deia ≤ best?'] : [])];
  const rows = scen.map((s) => {
    const r = results[s];
    const best = Math.min(...policies.map((pn) => r[pn].regret.mean));
    const row = [`${s} ${SCENARIO_NAMES[s]}`, r[policies[0]].tasks, ...policies.map((pn) => fmt(r[pn].regret, 1) + (r[pn].regret.mean === best ? ' *' : ''))];
    if (policies.includes('deia') && base.length) {
      const bb = Math.min(...base.map((pn) => r[pn].regret.mean));
      const d = r.deia.regret.mean;
      row.push(d <= bb ? 'yes' : `NO (${(d / bb).toFixed(2)}×)`);
    }
    return row;
  });
  lines.push(...table(head, rows));
  lines.push('');
  const conf = policies.filter((pn) => scen.some((s) => results[s][pn].brier));
  if (conf.length) {
    lines.push('Brier score of confidence = P(recommended bot is the best) (lower is better), every 10th task');
    lines.push(...table(['scenario', ...conf], scen.map((s) => [s, ...conf.map((pn) => (results[s][pn].brier ? results[s][pn].brier.mean.toFixed(3) : '–'))])));
    lines.push('');
  }
  if (policies.includes('deia') && results[scen[0]].deia.reliability) {
    lines.push('Reliability of deia\'s confidence: per bucket, mean confidence → how often the pick was truly best (share of samples)');
    const buckets = results[scen[0]].deia.reliability.map((b) => b.bucket);
    lines.push(
      ...table(
        ['scenario', ...buckets],
        scen.map((s) => {
          const rel = results[s].deia.reliability;
          const n = rel.reduce((a, b) => a + b.n, 0);
          return [s, ...rel.map((b) => (b.n ? `${b.mean_confidence.toFixed(2)}→${b.truly_best.toFixed(2)} (${Math.round((100 * b.n) / n)}%)` : '–'))];
        }),
      ),
    );
    lines.push('');
  }
  const out = scen.filter((s) => results[s][policies[0]].refound);
  if (out.length) {
    lines.push('Outages: tasks after the star bot recovered until it had half of the last 20 picks again (never found again: share of runs)');
    lines.push(...table(['scenario', ...policies], out.map((s) => [s, ...policies.map((pn) => `${fmt(results[s][pn].refound)} (${Math.round(100 * results[s][pn].never_refound)}%)`)])));
    lines.push('');
  }
  const tied = scen.filter((s) => results[s][policies[0]].longest_run);
  if (tied.length) {
    lines.push('Two tied bots: longest run of picks of one tied bot / the other tied bot\'s share of their picks');
    lines.push(...table(['scenario', ...policies], tied.map((s) => [s, ...policies.map((pn) => `${results[s][pn].longest_run.mean.toFixed(0)} / ${(100 * results[s][pn].minority_share.mean).toFixed(0)}%`)])));
    lines.push('');
  }
  lines.push('Policies: ' + policies.map((pn) => `${pn} = ${POLICY_NAMES[pn]}`).join('; '));
  return lines.join('\n');
}

function table(head, rows) {
  const w = head.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.map(line)];
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = parseArgs(process.argv.slice(2));
  const lib = await loadPolicyLib();
  const t0 = Date.now();
  const results = runAll(lib, {
    envs: o.envs,
    tasks: o.tasks,
    scenarios: o.scenarios,
    policies: o.policies,
    overrides: o.set,
    tune: o.tune,
    onProgress: (sc, seed) => process.stderr.write(`\r${sc} seed ${seed}   `),
  });
  process.stderr.write('\n');
  const seconds = (Date.now() - t0) / 1000;
  console.log(renderTable(results, o.policies));
  const verdict = {};
  for (const s of Object.keys(results)) {
    const base = o.policies.filter((p) => p !== 'deia').map((p) => results[s][p].regret.mean);
    if (!results[s].deia || base.length === 0) continue;
    const d = results[s].deia.regret.mean;
    verdict[s] = { deia: d, best_baseline: Math.min(...base), ok: d <= Math.min(...base) };
  }
  console.log(`\n${o.envs} environments (${o.tune ? 'tuning seeds 1001+' : 'report seeds 1+'}) × ${o.scenarios.length} scenarios × ${o.policies.length} policies in ${seconds.toFixed(1)} s`);
  if (o.write && !o.quick && !o.tune) {
    fs.writeFileSync(
      path.join(root, 'bench/routing-results.json'),
      JSON.stringify({ date: new Date().toISOString(), node: process.version, envs: o.envs, tasks: o.tasks, seconds, config_overrides: o.set, results, verdict }, null, 2) + '\n',
    );
  }
}
