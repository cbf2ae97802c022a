#!/usr/bin/env node
// Tiny launcher for the CLI bundle that `npm run build` (run by `prepare` on install) writes.
//
// CommonJS on purpose: Node 20 loads one CommonJS file faster than a graph of ES modules.
// It also compiles the bundle with V8's code cache (dist/cli/main.cjs.cache, written by the
// build), which Node 20 has no built-in switch for (Node 22's module.enableCompileCache):
// measured here, `deia register` went from 1.40x to 1.21x the start-up of `node -e 0`.
// A cache V8 rejects (another Node version) is only slower, never wrong; it is then
// rewritten, atomically, if the folder is writable.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'dist', 'cli', 'main.cjs');
const cacheFile = `${file}.cache`;
let source;
try {
  source = fs.readFileSync(file, 'utf8');
} catch {
  process.stderr.write('deia: not built yet (run `npm run build` in the deia folder)\n');
  process.exit(1);
}
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // no cache yet: compile normally
}
const vm = require('node:vm');
const Module = require('node:module');
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
const localRequire = Module.createRequire(file);
script.runInThisContext().call(mod.exports, mod.exports, localRequire, mod, file, path.dirname(file));

if (cachedData === undefined ? process.env.DEIA_WRITE_CODE_CACHE === '1' : script.cachedDataRejected) {
  // After the command ran, the cache also holds the functions it compiled on the way.
  process.once('exit', () => {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // nothing to clean
      }
    }
  });
}
