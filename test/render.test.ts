import { describe, expect, it } from 'vitest';
import { ANSI, fitWidth, renderTable, visibleWidth } from '../src/cli/render.js';
import { deia, tempHive } from './helpers/cli.js';

describe('tables and colour without cli-table3 or chalk', () => {
  it('aligns columns by terminal width: colour codes take none, CJK takes two', () => {
    const t = renderTable(['id', 'n', 'note'], [[ANSI.red('P0'), '7', '漢字'], ['P2', '12', 'x']], ['left', 'right']);
    const lines = t.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(lines).toEqual(['id   n  note', 'P0   7  漢字', 'P2  12  x']);
    expect(visibleWidth('漢字 e\u0301')).toBe(6);
    expect(fitWidth('abcdefghij', 5)).toBe('abcd…');
  });

  it('deia inbox colours on a forced terminal, never with NO_COLOR', () => {
    const { dir } = tempHive('deia-render-');
    expect(deia(['register', 'BOT-B'], { dir }).code).toBe(0);
    expect(deia(['send', 'BOT-B', 'urgent', '--priority', 'P0', '--as', 'BOT-A'], { dir }).code).toBe(0);
    const coloured = deia(['inbox', 'BOT-B'], { dir, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(coloured.stdout).toContain('\x1b[31mP0\x1b[39m');
    const plain = deia(['inbox', 'BOT-B'], { dir, env: { FORCE_COLOR: '1' } });
    expect(plain.stdout).not.toContain('\x1b[');
    expect(plain.stdout.split('\n')[0]).toMatch(/^id {8}from {3}priority {2}age {2}subject/);
  });
});
