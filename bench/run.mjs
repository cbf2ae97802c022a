// `npm run bench`: runs every bench/*.bench.mjs (or those named on the command line),
// prints a table of medians and ratios against a baseline measured in the same run,
// and writes bench/results.json.
import fs from 'node:fs';
import path from 'node:path';
import { root } from './lib.mjs';

const only = process.argv.slice(2);
const files = fs
  .readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const results = [];
for (const f of files) {
  const mod = await import(path.join(root, 'bench', f));
  process.stderr.write(`running ${mod.title ?? f} …\n`);
  const rows = await mod.run();
  for (const r of rows) results.push({ bench: mod.title ?? f, ...r });
}

const fmt = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d) : String(x ?? ''));
const head = ['benchmark', 'case', 'baseline', 'baseline ms', 'case ms', 'ratio', 'target', 'ok'];
const lines = results.map((r) => {
  const v = r.unit ? r.value : r.ratio;
  const ok = r.pass !== undefined ? r.pass : r.target === undefined ? '' : r.targetKind === 'min' ? v >= r.target : v <= r.target;
  r.pass = ok;
  return [
    r.bench,
    r.name,
    r.baseline ?? '',
    fmt(r.a),
    fmt(r.b),
    r.unit ? `${fmt(r.value, 0)} ${r.unit}` : fmt(r.ratio, 2) + '×',
    r.target === undefined ? '' : `${r.targetKind === 'min' ? '≥' : '≤'} ${r.target}${r.unit ? ' ' + r.unit : '×'}`,
    ok === '' ? '' : ok ? 'yes' : 'NO',
  ];
});
const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
const pr = (cells) => console.log(cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
pr(head);
for (const l of lines) pr(l);
fs.writeFileSync(
  path.join(root, 'bench/results.json'),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2) + '\n',
);
