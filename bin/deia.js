#!/usr/bin/env node
// Tiny launcher: the CLI is the bundle that `npm run build` (run by `prepare` on install) writes.
// CommonJS on purpose: Node 20 loads one CommonJS file faster than a graph of ES modules.
'use strict';
let main;
try {
  main = require.resolve('../dist/cli/main.cjs');
} catch {
  process.stderr.write('deia: not built yet (run `npm run build` in the deia folder)\n');
  process.exit(1);
}
require(main);
