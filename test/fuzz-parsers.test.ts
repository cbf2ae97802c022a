import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBuffer, type BadLine } from '../src/store/jsonl.js';
import { Store } from '../src/store/store.js';
import { deia, snapshotTree, tempHive } from './helpers/cli.js';
import { listCommands, type CommandInfo } from './helpers/surface.js';

// CI runs a fixed seed so a red build is reproducible; FUZZ_SEED=<n> (or `random`) explores further.
const seedEnv = process.env.FUZZ_SEED;
const seed = seedEnv === 'random' ? Date.now() : Number(seedEnv ?? 20261125);
fc.configureGlobal({ seed });
console.log(`fuzz seed ${seed}`);

/** Text that looks like JSONL, broken in every way a crash or a bad hand-edit breaks it. */
const jsonlText = fc
  .array(
    fc.oneof(
      fc.object().map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('', ' ', '{', '{"a":', '}', 'null', '[]', '"x"', '\r', '\uFEFF{"a":1}', '{"a":1}{"b":2}'),
    ),
    { maxLength: 12 },
  )
  .chain((lines) =>
    fc.record({ lines: fc.constant(lines), tail: fc.boolean() }).map(({ lines, tail }) => lines.join('\n') + (tail ? '\n' : '')),
  );

describe('fuzz: the JSONL reader', () => {
  it('never throws, returns only objects, and accounts for every line', () => {
    fc.assert(
      fc.property(fc.oneof(jsonlText, fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString('latin1'))), (text) => {
        const buf = Buffer.from(text, 'utf8');
        const bad: BadLine[] = [];
        const res = parseBuffer<Record<string, unknown>>(buf, 0, 1, (b) => bad.push(b));
        for (const r of res.records) expect(r !== null && typeof r === 'object' && !Array.isArray(r)).toBe(true);
        expect(res.end).toBeLessThanOrEqual(buf.length);
        if (res.end > 0) expect(buf[res.end - 1]).toBe(0x0a);
        const complete = buf.subarray(0, res.end).toString('utf8').split('\n').slice(0, -1);
        expect(res.records.length + bad.length).toBe(complete.filter((l) => l.trim() !== '').length);
        expect(res.tornText !== undefined).toBe(res.end < buf.length);
      }),
      { numRuns: 500 },
    );
  });

  it('read and stream agree, whatever the file holds, and warnings never throw', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-fuzz-'));
    const warnings: string[] = [];
    const store = new Store(dir, { warn: (m) => warnings.push(m) });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(jsonlText, async (text) => {
        const rel = `f${n++}.jsonl`;
        fs.writeFileSync(path.join(dir, rel), text);
        const read = store.read<unknown>(rel).records;
        const streamed: unknown[] = [];
        const bad: BadLine[] = [];
        for await (const { record } of store.stream<unknown>(rel, { onBad: (b) => bad.push(b) })) streamed.push(record);
        expect(streamed).toEqual(read);
        // appending after any damage still yields a readable record at the end
        await store.append(rel, [{ after: true }]);
        const again = store.read<Record<string, unknown>>(rel).records;
        expect(again[again.length - 1]).toEqual({ after: true });
        expect(again.length).toBeGreaterThanOrEqual(read.length + 1);
      }),
      { numRuns: 200 },
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// Commands that run a server or wait on purpose are not fuzzed (they are tested on their own).
// export and migrate (--to PATH: a copy of the hive there) write outside the hive by design (their own tests cover
// their flags and refusals); this test asserts nothing is written outside.
const NOT_FUZZED = new Set(['health serve', 'demo', 'demo bot', 'export', 'migrate']);
const NOT_FUZZED_OPTIONS = new Set(['--wait', '--follow', '--watch', '--interval', '--stdin-jsonl', '--port', '--host']);

const hostile = fc.constantFrom(
  '', '-', '--', '-1', '0', '1e309', 'NaN', 'Infinity', '0x10', '  7 ', '3.5', '@all', '..', '../x', 'a/b', '/etc/passwd',
  'x'.repeat(65), '\x1b[2J', '\x1b]0;t\x07', 'P0', 'P9', 'code', 'BOT-1', 'BOT-2', '{"a":1}', '%s%n', '$(id)', '\u202e', '🐝',
  // Object.prototype's names: valid ids that a plain-object map would mistake for its own (issue 12.3).
  'constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf',
);
const token = fc.oneof(
  { weight: 3, arbitrary: hostile },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
).map((s) => s.replace(/\0/g, '')); // argv cannot carry NUL

function argvFor(cmd: CommandInfo): fc.Arbitrary<string[]> {
  const opts = cmd.options.filter(([f]) => !NOT_FUZZED_OPTIONS.has(f));
  const opt = opts.length
    ? fc.constantFrom(...opts).chain(([flag, takesValue]): fc.Arbitrary<string[]> => (takesValue ? token.map((v) => [flag, v]) : fc.constant([flag])))
    : fc.constant([] as string[]);
  const required = cmd.args.filter((a) => a.startsWith('<')).length;
  const positional = fc.oneof(
    { weight: 3, arbitrary: fc.array(token, { minLength: required, maxLength: Math.max(required, cmd.args.length) + (cmd.args.some((a) => a.includes('...')) ? 2 : 0) }) },
    { weight: 1, arbitrary: fc.array(token, { maxLength: 4 }) },
  );
  return fc
    .tuple(positional, fc.array(opt, { maxLength: 3 }), fc.boolean())
    .map(([pos, os, json]): string[] => [...cmd.path, ...os.flat(), ...(json ? ['--json'] : []), '--', ...pos]);
}

describe('fuzz: every command’s parser', () => {
  let commands: CommandInfo[] = [];
  beforeAll(() => {
    commands = listCommands().filter((c) => !NOT_FUZZED.has(c.path.join(' ')));
  });

  it('answers arbitrary arguments with a clean result: exit 0-2 (health 0-3), one-line errors, no stack, nothing changed on exit 2', () => {
    const { dir } = tempHive('deia-fuzz-');
    expect(deia(['init'], { dir }).code).toBe(0);
    deia(['register', 'BOT-1'], { dir });
    deia(['register', 'BOT-2'], { dir });
    const outside = path.dirname(dir);
    const outsideBefore = fs.readdirSync(outside).sort();
    let runs = 0;
    const codes: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.constantFrom(...commands).chain((c) => fc.tuple(fc.constant(c), argvFor(c), fc.constantFrom('BOT-1', 'BOT-1', 'BOT-2', '', '../evil', 'constructor', 'toString'))),
        ([cmd, argv, as]) => {
          runs++;
          const before = snapshotTree(dir);
          const r = deia(argv, { dir, env: { DEIA_BOT: as } });
          const name = cmd.path.join(' ');
          const max = cmd.path[0] === 'health' ? 3 : 2;
          expect(r.code, `${JSON.stringify(argv)}\n${r.stderr}`).toBeGreaterThanOrEqual(0);
          expect(r.code, `${JSON.stringify(argv)}\n${r.stderr}`).toBeLessThanOrEqual(max);
          expect(r.stderr, JSON.stringify(argv)).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)|internal error|TypeError|ReferenceError/);
          for (const line of r.stderr.split('\n').filter(Boolean)) expect(line, JSON.stringify(argv)).toMatch(/^deia: /);
          expect(r.stdout + r.stderr).not.toMatch(/\x1b/);
          if (r.code === 2 && name !== 'health') expect(snapshotTree(dir), JSON.stringify(argv)).toEqual(before);
          codes[`${name}:${r.code}`] = (codes[`${name}:${r.code}`] ?? 0) + 1;
        },
      ),
      { numRuns: Number(process.env.DEIA_FUZZ_RUNS ?? 150) },
    );
    expect(fs.readdirSync(outside).sort()).toEqual(outsideBefore);
    const doc = deia(['doctor', '--json'], { dir });
    expect(doc.code, doc.stdout).toBe(0);
    console.log(`fuzz: ${runs} command runs over ${commands.length} commands; exit codes ${JSON.stringify(codes)}`);
  });
});
