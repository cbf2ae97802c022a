import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mainPath, tempHive } from './helpers/cli.js';

// The demo as a person sees it: in a real pseudo-terminal (tmux) 80 columns wide.
const session = `deia-demo-${process.pid}`;
const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
afterAll(() => tmux('kill-session', '-t', session));

/** A progress line, whole or a wrapped piece of one. */
const PROGRESS = /\d+\/\d+ sent|\d+ working|\d+ queued|msgs \d+|routing |health [A-Z0-9]+:/;

describe('deia demo in an 80-column terminal', () => {
  it('redraws its progress on one line that never wraps, and hints a command that works here', async () => {
    const { root, dir } = tempHive('deia-demo-tty-');
    const done = path.join(root, 'exit-code');
    // PATH without any deia: the hints must then name node and this bundle.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-nopath-'));
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    const cmd = `env -i HOME=${root} PATH=${bin}:/usr/bin:/bin TERM=xterm node ${mainPath()} demo --tasks 40 --bots 3 --interval 60ms --fast --dir ${dir}; echo $? > ${done}; sleep 60`;
    const started = tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', cmd);
    expect(started.status, started.stderr).toBe(0);
    let seenProgress = 0;
    for (let i = 0; i < 600 && !fs.existsSync(done); i++) {
      const pane = tmux('capture-pane', '-p', '-t', session).stdout;
      const lines = pane.split('\n').filter((l) => PROGRESS.test(l));
      // At any moment at most one progress line is on screen: no fragments of earlier ones.
      expect(lines.length, pane).toBeLessThanOrEqual(1);
      seenProgress += lines.length;
      await new Promise((r) => setTimeout(r, 200));
    }
    // -J joins lines the terminal wrapped, keeping a space that fell on the wrap column.
    const pane = tmux('capture-pane', '-p', '-J', '-t', session, '-S', '-200').stdout;
    expect(fs.readFileSync(done, 'utf8').trim()).toBe('0');
    expect(seenProgress).toBeGreaterThan(0);
    expect(pane.split('\n').filter((l) => PROGRESS.test(l))).toEqual([]);
    // The hint names a command that works without deia on PATH.
    expect(pane).toContain(`node ${fs.realpathSync(mainPath())} health serve --dir ${dir}`);
  }, 120_000);
});
