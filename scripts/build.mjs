// Bundles the CLI (split per command, so start-up loads only what runs) and the library.
// Usage: node scripts/build.mjs [--outdir DIR] [--no-types]
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outdir');
const outdir = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : path.join(root, 'dist');
const types = !args.includes('--no-types');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
  define: { __DEIA_VERSION__: JSON.stringify(version) },
};

// Start-up is most of what a command costs, so builtins are loaded the cheap way:
// child_process and assert (wanted by commander and signal-exit only on paths deia never
// takes at start) sit behind a proxy that loads them on first use.
const LAZY = new Set(['child_process', 'assert']);
const builtins = new Set(builtinModules);
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name)) return undefined;
      return { path: name, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const id = JSON.stringify(`node:${args.path}`);
      if (!LAZY.has(args.path)) return { contents: `module.exports = __deiaBuiltin(${id});`, loader: 'js' };
      // A function target so `assert(x)` works; ownKeys/getOwnPropertyDescriptor forward so
      // that esbuild's interop for `import { spawn } from 'node:child_process'` sees the exports.
      return {
        loader: 'js',
        contents: `let m; const load = () => (m ??= __deiaBuiltin(${id}));
module.exports = new Proxy(function () {}, {
  get: (_, k) => load()[k],
  apply: (_, self, args) => load().apply(self, args),
  has: (_, k) => k in load(),
  ownKeys: (t) => [...new Set([...Reflect.ownKeys(load()), ...Reflect.ownKeys(t).filter((k) => !Reflect.getOwnPropertyDescriptor(t, k).configurable)])],
  getOwnPropertyDescriptor: (t, k) => {
    const own = Reflect.getOwnPropertyDescriptor(t, k);
    if (own && !own.configurable) return own;
    const d = Reflect.getOwnPropertyDescriptor(load(), k);
    return d && { ...d, configurable: true };
  },
});`,
      };
    });
  },
};

// The PostgreSQL driver: its own file next to the CLI bundle, required only by the postgres
// backend (reached by a dynamic import), so a file-backend command never reads or runs it, and
// a test can tell from require.cache whether it was loaded. Bundled into one file because pg
// spread over node_modules took 45 ms to require here, one file 9 ms.
const pgExternal = {
  name: 'pg-external',
  setup(b) {
    b.onResolve({ filter: /^pg$/ }, () => ({ path: './pg.cjs', external: true }));
  },
};
// pg probes for Cloudflare Workers by constructing a fetch `Response`, which makes Node load its
// whole fetch implementation (undici): 17 of the 26 ms pg took to load. Node is never a Worker.
const pgNoCloudflareProbe = {
  name: 'pg-no-cloudflare-probe',
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const patched = src.replace("typeof Response === 'function'", 'false');
      if (patched === src) throw new Error('pg/lib/stream.js changed: review the Cloudflare probe patch in scripts/build.mjs');
      return { contents: patched, loader: 'js' };
    });
  },
};

rmSync(path.join(outdir, 'cli'), { recursive: true, force: true });
rmSync(path.join(outdir, 'lib'), { recursive: true, force: true });

// The CLI: ONE CommonJS file. Measured on Node 20 here, `register` (lock + append) took
// 1.46x `node -e 0` as a split ES-module graph and 1.31x as one CommonJS file: ESM pays an
// async resolve/read/link per chunk, CommonJS one synchronous read. Lazy `import()`s stay
// lazy: esbuild wraps each module in an init function run on first use, so a command
// evaluates only its own code (V8 compiles function bodies lazily, too).
await build({
  ...shared,
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(outdir, 'cli/main.cjs'),
  format: 'cjs',
  // The MCP SDK (and its zod) serve `deia mcp` only: required from node_modules when that
  // command runs, so the one-file bundle every other command reads and compiles stays small.
  external: ['@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/*', 'zod'],
  define: { ...shared.define, 'import.meta.url': '__deiaImportMetaUrl' },
  banner: {
    js: "const __deiaBuiltin = require; const __deiaImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  plugins: [lazyBuiltins, pgExternal],
});
await build({
  ...shared,
  entryPoints: [path.join(root, 'node_modules/pg/lib/index.js')],
  outfile: path.join(outdir, 'cli/pg.cjs'),
  format: 'cjs',
  external: ['pg-native'],
  plugins: [pgNoCloudflareProbe],
});

// V8 code cache for bin/deia.js: warmed by the everyday commands of a bot, run in one process
// on a scratch hive, so it holds the program, commander, the store, locking and messaging code.
{
  const cacheFile = path.join(outdir, 'cli/main.cjs.cache');
  rmSync(cacheFile, { force: true });
  if (outdir === path.join(root, 'dist')) {
    const scratch = mkdtempSync(path.join(tmpdir(), 'deia-build-'));
    try {
      // The same commands on a folder in each layout: the folder's own code, and the storage
      // interface's (a file:// folder, layout.json), whose records code is otherwise compiled cold.
      const everyday = (d) => [
        ['register', 'WARM-A', ...d],
        ['send', 'WARM-A', 'warming up', '--as', 'WARM-B', ...d],
        ['inbox', 'WARM-A', ...d],
        ['inbox', 'WARM-A', '--next', '--json', ...d],
        ['record', 'WARM-A', 'code', '--success', '--duration', '2s', ...d],
        ['recommend', 'code', ...d],
        ['status', ...d],
      ];
      const d = ['--dir', path.join(scratch, '.deia')];
      const warm = [...everyday(d), ...everyday(['--store', pathToFileURL(path.join(scratch, 'records', '.deia')).href])];
      execFileSync(process.execPath, [path.join(root, 'bin/deia.js'), 'register', 'WARM-UP', ...d], {
        env: { ...process.env, DEIA_WRITE_CODE_CACHE: '1', DEIA_WARM_ARGS: JSON.stringify(warm), NO_COLOR: '1', DEIA_BOT: '' },
        stdio: 'ignore',
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

// The library: ES modules for `import { openHive } from 'deia'`, dependencies left to node_modules.
await build({
  ...shared,
  minify: false,
  entryPoints: { index: path.join(root, 'src/index.ts') },
  outdir: path.join(outdir, 'lib'),
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  packages: 'external',
});
if (types) {
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
}
