import { dict } from '../common/dict.js';
import { UsageError } from '../common/errors.js';
import { check, defaultsOf, describe, type Defaults, type Section } from './schema.js';
import { messagingSection } from '../messaging/config.js';
import { schedulingSection } from '../scheduling/config.js';
import { healthSection } from '../health/config.js';
import { scalingSection, tasksSection } from '../tasks/config.js';
import { cleanupSection, storeSection } from '../maintenance/config.js';

/** Every key of config.json, by section. `deia init` writes all of them out. */
export const SCHEMA = {
  store: storeSection,
  messaging: messagingSection,
  scheduling: schedulingSection,
  health: healthSection,
  tasks: tasksSection,
  scaling: scalingSection,
  cleanup: cleanupSection,
} as const;

type Schema = typeof SCHEMA;
export type Config = { [K in keyof Schema]: Defaults<Schema[K]> };

export const CONFIG_FILE = 'config.json';

export function defaultConfig(): Config {
  const out = dict<unknown>();
  for (const [name, section] of Object.entries(SCHEMA)) out[name] = defaultsOf(section as Section);
  return out as Config;
}

/**
 * Validate a parsed config.json and fill missing keys with defaults.
 * Unknown keys and wrong types are errors naming the key and what it should be.
 */
export function resolveConfig(raw: unknown, file = CONFIG_FILE): Config {
  const cfg = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  if (raw === undefined) return cfg as unknown as Config;
  const fix = `fix ${file} or run \`deia init --force\``;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${file}: must be a JSON object`, fix);
  }
  // Own keys only, looked up with Object.hasOwn: JSON.parse makes `"__proto__"` an own key, and
  // a plain lookup of "toString" or "constructor" would find Object.prototype's (issue 12.3).
  for (const [sectionName, value] of Object.entries(raw as Record<string, unknown>)) {
    if (sectionName === '$schema' || sectionName === 'version') continue;
    const section = Object.hasOwn(SCHEMA, sectionName) ? (SCHEMA as Record<string, Section>)[sectionName] : undefined;
    if (!section) {
      throw new UsageError(`${file}: unknown key "${sectionName}" (known: ${Object.keys(SCHEMA).join(', ')})`, fix);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UsageError(`${file}: "${sectionName}" must be an object`, fix);
    }
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const leaf = Object.hasOwn(section, key) ? section[key] : undefined;
      if (!leaf) throw new UsageError(`${file}: unknown key "${sectionName}.${key}" (known: ${Object.keys(section).join(', ')})`, fix);
      if (!check(leaf, v)) {
        throw new UsageError(`${file}: "${sectionName}.${key}" must be ${describe(leaf)} (got ${JSON.stringify(v)})`, fix);
      }
      cfg[sectionName]![key] = v;
    }
  }
  const c = cfg as unknown as Config;
  if (c.store.lock_max_wait_ms <= c.store.lock_stale_ms) {
    throw new UsageError(`${file}: "store.lock_max_wait_ms" must be greater than "store.lock_stale_ms"`, fix);
  }
  return c;
}

/** Parse config.json text; a syntax error is one line that names the file. */
export function parseConfigText(text: string, file = CONFIG_FILE): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message})`, `fix it or run \`deia init --force\``);
  }
  return resolveConfig(raw, file);
}
