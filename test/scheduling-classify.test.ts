import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyTask } from '../src/scheduling/classify.js';
import { TASK_TYPES } from '../src/scheduling/types.js';

const examples: Array<{ text: string; type: string }> = JSON.parse(fs.readFileSync('test/fixtures/classifier-examples.json', 'utf8'));

describe('task classifier', () => {
  it('has at least 50 labelled sentences covering every type', () => {
    expect(examples.length).toBeGreaterThanOrEqual(50);
    for (const t of TASK_TYPES) expect(examples.some((e) => e.type === t), t).toBe(true);
  });

  it('gets at least 90% of them right', () => {
    const wrong = examples.filter((e) => classifyTask(e.text).type !== e.type);
    expect(1 - wrong.length / examples.length, JSON.stringify(wrong)).toBeGreaterThanOrEqual(0.9);
  });

  it('says what it matched, and falls back to other with confidence 0', () => {
    const c = classifyTask('Write unit tests for the parser');
    expect(c.type).toBe('testing');
    expect(c.matched).toContain('unit test');
    expect(c.confidence).toBeGreaterThan(0);
    expect(c.confidence).toBeLessThanOrEqual(1);
    expect(classifyTask('zzz qqq')).toEqual({ type: 'other', confidence: 0, matched: [] });
  });
});
