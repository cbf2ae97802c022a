// What the routing simulator runs: the production code paths, bundled by bench/routing.mjs
// (and imported directly by test/scheduling-regret.test.ts).
export * from '../src/scheduling/policy.js';
export * from '../src/scheduling/random.js';
export { outcomeOf, toRecord } from '../src/scheduling/input.js';
export { defaultConfig } from '../src/config/index.js';
export { emptyAgg, foldPerf, prune } from '../src/health/agg.js';
export { buildInputs, routingLevelsOf } from '../src/health/api.js';
export { emptyLevelState, evaluate } from '../src/health/rules.js';
