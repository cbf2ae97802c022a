/**
 * Task text -> task type, for `deia recommend --task "…"`. Pure and documented: each type has
 * phrases (weight 3) and keywords (weight 1; a keyword matches as a whole word with an optional
 * ending -s, -es, -d, -ed, -ing, -er, -ers, so "refactor" also matches "refactoring"). The type with the highest total wins; ties go to the type listed
 * first below; nothing matched is `other` with confidence 0. Confidence = winner's share of all
 * matched weight. Tested on the labelled sentences in test/fixtures/classifier-examples.json.
 *
 * Classification maps onto the configured types (`scheduling.task_types`): built-in types keep
 * their rules, a team's own type (say `deploy` or `db-migration`) matches its own name and the
 * words of it as keywords (weight 2, winning ties), and a built-in type that is not configured is never chosen.
 */
import { isBuiltinTaskType, TASK_TYPES, type BuiltinTaskType, type TaskType } from './types.js';

export interface Classification {
  type: TaskType;
  confidence: number;
  matched: string[];
}

interface Rules {
  phrases: string[];
  keywords: string[];
}

// Order matters only for ties: more specific types first.
export const CLASSIFIER_RULES: Readonly<Record<Exclude<BuiltinTaskType, 'other'>, Rules>> = {
  testing: {
    phrases: ['unit test', 'integration test', 'end to end', 'end-to-end', 'test suite', 'test coverage', 'regression test', 'write tests', 'add tests', 'flaky test', 'load test', 'smoke test', 'qa pass'],
    keywords: ['test', 'tests', 'testing', 'coverage', 'assert', 'verify', 'validate', 'validation', 'qa', 'flaky', 'e2e', 'fixture', 'mock', 'vitest', 'jest', 'pytest', 'reproduce'],
  },
  documentation: {
    phrases: ['api reference', 'user guide', 'release notes', 'docstring', 'code comments', 'getting started', 'how-to guide', 'the docs', 'the readme'],
    keywords: ['document', 'documentation', 'docs', 'readme', 'changelog', 'jsdoc', 'docstrings', 'manual', 'wiki', 'annotate', 'tutorial'],
  },
  planning: {
    phrases: ['break down', 'break it down', 'project plan', 'sprint planning', 'next quarter', 'action items', 'time estimate', 'work breakdown'],
    keywords: ['plan', 'planning', 'roadmap', 'milestone', 'milestones', 'schedule', 'prioritize', 'prioritise', 'estimate', 'timeline', 'backlog', 'sprint', 'strategy', 'organize', 'organise', 'coordinate', 'allocate', 'steps'],
  },
  analysis: {
    phrases: ['root cause', 'figure out why', 'look into', 'compare the', 'performance profile', 'find out why', 'data analysis', 'trade-offs', 'trade offs'],
    keywords: ['analyze', 'analyse', 'analysis', 'investigate', 'investigation', 'evaluate', 'assess', 'compare', 'comparison', 'benchmark', 'metrics', 'profile', 'diagnose', 'audit', 'review', 'research', 'why', 'logs', 'statistics', 'trends', 'measure', 'examine', 'study'],
  },
  writing: {
    phrases: ['blog post', 'press release', 'cover letter', 'newsletter', 'social media', 'marketing copy', 'product description', 'landing page copy'],
    keywords: ['write', 'draft', 'essay', 'article', 'blog', 'email', 'letter', 'story', 'copy', 'copywriting', 'proofread', 'rewrite', 'summarize', 'summarise', 'summary', 'announcement', 'post', 'tweet', 'speech', 'translate', 'paragraph', 'proposal'],
  },
  code: {
    phrases: ['fix the bug', 'fix a bug', 'pull request', 'stack trace', 'type error', 'null pointer', 'merge conflict', 'add a feature', 'new endpoint', 'command line'],
    keywords: ['code', 'implement', 'implementation', 'function', 'bug', 'fix', 'refactor', 'compile', 'build', 'class', 'method', 'endpoint', 'api', 'script', 'typescript', 'javascript', 'python', 'rust', 'sql', 'query', 'crash', 'exception', 'debug', 'feature', 'module', 'library', 'deploy', 'migrate', 'migration', 'cli', 'regex', 'parser', 'program', 'develop', 'development', 'backend', 'frontend'],
  },
};

const ORDER = Object.keys(CLASSIFIER_RULES) as Array<keyof typeof CLASSIFIER_RULES>;

interface Compiled {
  type: TaskType;
  pats: Array<{ term: string; re: RegExp; w: number }>;
}

const cache = new Map<string, Compiled[]>();

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function keyword(term: string, w: number): { term: string; re: RegExp; w: number } {
  return { term, re: new RegExp(`(^|[^a-z0-9])${escape(term)}(s|es|d|ed|ing|ning|ned|er|ers)?($|[^a-z0-9])`, 'i'), w };
}

function compile(types: readonly TaskType[]): Compiled[] {
  const out: Compiled[] = [];
  // A team's own types first (more specific: they win ties), then the built-in ones in tie order.
  for (const type of types) {
    if (isBuiltinTaskType(type)) continue;
    const words = new Set([type, ...type.split(/[-_.]+/).filter((w) => w.length >= 3)]);
    out.push({ type, pats: [...words].map((w) => keyword(w, 2)) });
  }
  for (const type of ORDER) {
    if (!types.includes(type)) continue;
    const r = CLASSIFIER_RULES[type];
    out.push({
      type,
      pats: [
        ...r.phrases.map((term) => ({ term, re: new RegExp(`(^|[^a-z0-9])${escape(term)}`, 'i'), w: 3 })),
        ...r.keywords.map((term) => keyword(term, 1)),
      ],
    });
  }
  return out;
}

/** Classify task text onto `types` (default: the built-in ones); nothing matched is `other`. */
export function classifyTask(text: string, types: readonly TaskType[] = TASK_TYPES): Classification {
  const key = types.join(',');
  let compiled = cache.get(key);
  if (!compiled) cache.set(key, (compiled = compile(types)));
  const t = String(text ?? '').toLowerCase();
  let best: { type: TaskType; score: number; matched: string[] } = { type: 'other', score: 0, matched: [] };
  let total = 0;
  for (const c of compiled) {
    let score = 0;
    const matched: string[] = [];
    for (const p of c.pats) {
      if (p.re.test(t)) {
        score += p.w;
        matched.push(p.term);
      }
    }
    total += score;
    if (score > best.score) best = { type: c.type, score, matched };
  }
  return { type: best.type, confidence: total > 0 ? Math.round((best.score / total) * 1000) / 1000 : 0, matched: best.matched };
}
