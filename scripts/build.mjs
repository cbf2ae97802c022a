// Bundles the CLI (split per command, so start-up loads only what runs) and the library.
// Usage: node scripts/build.mjs [--outdir DIR] [--no-types]
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outdir');
const outdir = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : path.join(root, 'dist');
const types = !args.includes('--no-types');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
  define: { __DEIA_VERSION__: JSON.stringify(version) },
  alias: { 'graceful-fs': path.join(root, 'scripts/shims/graceful-fs.cjs') },
  // Bundled CommonJS dependencies (proper-lockfile, cli-table3) call require() for built-ins.
  banner: {
    js: [
      "import { createRequire as __deiaCreateRequire } from 'node:module';",
      "import { fileURLToPath as __deiaFileURLToPath } from 'node:url';",
      'const require = __deiaCreateRequire(import.meta.url);',
      'const __deiaBuiltin = require;',
      'const __filename = __deiaFileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
};

// Start-up is most of what a command costs, so builtins are loaded the cheap way:
// - through require(), not ESM `import`: Node's ESM facade for a builtin reads every
//   export, and for `fs` that getter loads fs/promises, streams and readline (~5 ms);
// - child_process and assert (wanted by commander and signal-exit only on paths deia never
//   takes at start) behind a proxy that loads them on first use.
const LAZY = new Set(['child_process', 'assert']);
const builtins = new Set(builtinModules);
const builtinsViaRequire = {
  name: 'builtins-via-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name)) return undefined;
      return { path: name, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const id = JSON.stringify(`node:${args.path}`);
      if (!LAZY.has(args.path)) return { contents: `module.exports = __deiaBuiltin(${id});`, loader: 'js' };
      return {
        loader: 'js',
        contents: `let m; const load = () => (m ??= __deiaBuiltin(${id}));
module.exports = new Proxy(function () {}, {
  get: (_, k) => load()[k],
  apply: (_, self, args) => load().apply(self, args),
  has: (_, k) => k in load(),
});`,
      };
    });
  },
};

rmSync(path.join(outdir, 'cli'), { recursive: true, force: true });
rmSync(path.join(outdir, 'lib'), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { main: path.join(root, 'src/cli/main.ts') },
  outdir: path.join(outdir, 'cli'),
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [builtinsViaRequire],
});
await build({
  ...common,
  entryPoints: { index: path.join(root, 'src/index.ts') },
  outdir: path.join(outdir, 'lib'),
  chunkNames: 'chunks/[name]-[hash]',
  packages: 'external',
});
if (types) {
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
}
