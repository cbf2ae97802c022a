import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/common/errors.js';
import { formatAge, parseDuration, parsePriority, parseTokens } from '../src/common/parse.js';
import { parseSince } from '../src/cli/commands/health-history.js';
import { deia, tempHive } from './helpers/cli.js';

const usage = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('parseDuration', () => {
  it('reads every unit, fractions, spaces and any case', () => {
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2sec')).toBe(2000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('2min')).toBe(120_000);
    expect(parseDuration('90 MIN')).toBe(5_400_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('.5s')).toBe(500);
    expect(parseDuration('0')).toBe(0);
  });

  it('a bare number is milliseconds, unless refused', () => {
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration(250)).toBe(250);
    expect(usage(() => parseDuration('250', { bareMs: false, what: '--since' })).message).toMatch(/^--since: cannot read "250" as a duration/);
  });

  it('refuses negative and unreadable durations, naming the option', () => {
    expect(usage(() => parseDuration('-1s')).message).toMatch(/^--duration must not be negative/);
    const e = usage(() => parseDuration('soon', { what: 'stdin line 2: duration' }));
    expect(e.message).toBe('stdin line 2: duration: cannot read "soon" as a duration');
    expect(e.hint).toMatch(/1d/);
    for (const bad of ['', '1y', '1 h 2 m', 'ms', '1e3', 'NaN']) expect(() => parseDuration(bad), bad).toThrow(UsageError);
  });
});

describe('parsePriority', () => {
  it('takes P0..P3 in any case', () => {
    expect(parsePriority('p0')).toBe('P0');
    expect(parsePriority('P3')).toBe('P3');
    expect(parsePriority(' p1 ')).toBe('P1');
  });

  it('refuses anything else and lists the valid ones', () => {
    for (const bad of ['P4', 'high', '', 0, null]) {
      const e = usage(() => parsePriority(bad, 'line 3: '));
      expect(e.message).toMatch(/^line 3: unknown priority/);
      expect(e.hint).toMatch(/P0.*P1.*P2.*P3/);
    }
  });
});

describe('parseTokens', () => {
  it('takes non-negative whole numbers, as text or numbers', () => {
    expect(parseTokens('900')).toBe(900);
    expect(parseTokens(' 0 ')).toBe(0);
    expect(parseTokens(12)).toBe(12);
  });

  it('refuses the rest, naming the option', () => {
    for (const bad of ['-1', '1.5', 'many', '', -3, 2.5, Number.MAX_SAFE_INTEGER + 2, '99999999999999999999']) {
      expect(usage(() => parseTokens(bad)).message, String(bad)).toMatch(/^--tokens must be a non-negative integer/);
    }
    expect(usage(() => parseTokens('x', 'stdin line 1: tokens')).message).toMatch(/^stdin line 1: tokens /);
  });
});

describe('formatAge', () => {
  it('says seconds, minutes, hours (up to two days), then days, rounded down', () => {
    expect(formatAge(0)).toBe('0s');
    expect(formatAge(45_000)).toBe('45s');
    expect(formatAge(59_999)).toBe('59s');
    expect(formatAge(60_000)).toBe('1m');
    expect(formatAge(3 * 60_000 + 59_000)).toBe('3m');
    expect(formatAge(2 * 3_600_000)).toBe('2h');
    expect(formatAge(47 * 3_600_000)).toBe('47h');
    expect(formatAge(4 * 86_400_000)).toBe('4d');
  });

  it('reads a negative or unknown age (clock skew, bad timestamp) as 0s', () => {
    expect(formatAge(-5000)).toBe('0s');
    expect(formatAge(NaN)).toBe('0s');
  });
});

describe('health history --since', () => {
  const NOW = Date.parse('2030-01-02T00:00:00Z');

  it('takes every duration unit and ISO times', () => {
    expect(parseSince('1d', NOW)).toBe(NOW - 86_400_000);
    expect(parseSince('90min', NOW)).toBe(NOW - 5_400_000);
    expect(parseSince('30m', NOW)).toBe(NOW - 1_800_000);
    expect(parseSince('2030-01-01T12:00:00Z', NOW)).toBe(Date.parse('2030-01-01T12:00:00Z'));
  });

  it('refuses a bare number and nonsense with one message', () => {
    for (const bad of ['90', 'yesterday', '-1h', '2030-13-45']) {
      expect(usage(() => parseSince(bad, NOW)).message, bad).toBe(`--since "${bad}" is not a duration or time`);
    }
  });

  it('the command accepts --since 1d and --since 90min (a real process)', () => {
    const { dir } = tempHive();
    expect(deia(['health', 'record', 'cpu', '50', '--bot', 'B1'], { dir }).code).toBe(0);
    for (const since of ['1d', '90min']) {
      const r = deia(['health', 'history', 'cpu', '--bot', 'B1', '--since', since, '--json'], { dir });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).samples).toHaveLength(1);
    }
    expect(deia(['health', 'history', 'cpu', '--since', '90'], { dir }).code).toBe(2);
  });
});
