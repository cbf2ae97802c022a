#!/usr/bin/env node
// Tiny launcher: the CLI is the bundle that `npm run build` (run by `prepare` on install) writes.
import('../dist/cli/main.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/cli/main.js')) {
    process.stderr.write('deia: not built yet (run `npm run build` in the deia folder)\n');
    process.exit(1);
  }
  throw e;
});
