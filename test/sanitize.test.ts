import { describe, expect, it } from 'vitest';
import { sanitize } from '../src/cli/sanitize.js';
import { Output } from '../src/cli/output.js';
import { Writable } from 'node:stream';

describe('the sanitiser for bot-written text', () => {
  it('removes title changes, screen clears and cursor moves but keeps the words', () => {
    expect(sanitize('hi\x1b]0;pwned\x07 there\x1b[2J\x1b[H!')).toBe('hi there!');
    expect(sanitize('a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b')).toBe('alinkb');
    expect(sanitize('\x1bc reset \x1b[31mred\x1b[0m')).toBe(' reset red');
    expect(sanitize('over\rwrite\x08\x07\x00')).toBe('overwrite');
    expect(sanitize('8-bit \x9b2J csi \x9d0;t\x07 osc')).toBe('8-bit  csi  osc');
    expect(sanitize('bidi \u202eevil\u202c ok')).toBe('bidi evil ok');
    expect(sanitize('tabs\tand\nnewlines stay, ünïcödé too')).toBe('tabs\tand\nnewlines stay, ünïcödé too');
  });

  it('leaves no ESC or control byte whatever the input', () => {
    for (let i = 0; i < 2000; i++) {
      const s = Array.from({ length: 30 }, () => String.fromCharCode(Math.floor(Math.random() * 0xa0))).join('');
      expect(sanitize(s)).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    }
  });

  it('table cells and lines printed for people carry no escape sequence from the data', async () => {
    let text = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        text += chunk;
        cb();
      },
    }) as unknown as NodeJS.WriteStream;
    const out = await new Output({ json: false, stdout: sink, stderr: sink, env: { FORCE_COLOR: '1' } }).init();
    await out.table(['from', 'body'], [['BOT\x1b]0;pwned\x07', out.paint('x\x1b[2Jy', out.c.red)]]);
    out.warn('bad \x1b[2J thing');
    expect(text).not.toContain('\x1b]');
    expect(text).not.toContain('\x1b[2J');
    expect(text).toContain('BOT');
    expect(text).toContain('xy');
  });
});

describe('errors stay on one line', () => {
  it('folds line breaks in quoted input (an id of "\\n" made a two-line error)', async () => {
    const { deia, tempHive } = await import('./helpers/cli.js');
    const { dir } = tempHive();
    const r = deia(['task', 'show', '--', 'ab\ncd'], { dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^deia: /);
  });
});
