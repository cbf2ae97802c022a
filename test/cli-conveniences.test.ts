import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

const json = (s: string) => JSON.parse(s);

describe('durations wherever a time is taken', () => {
  it('inbox --wait takes 1s and 500ms, a bare number stays seconds', () => {
    const { dir } = tempHive();
    const t0 = Date.now();
    const r = deia(['inbox', 'BOT-A', '--wait', '1s'], { dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1); // no message came
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(deia(['inbox', 'BOT-A', '--wait', '500ms'], { dir }).code).toBe(1);
    expect(deia(['inbox', 'BOT-A', '--wait', '0'], { dir }).code).toBe(1);
    const bad = deia(['inbox', 'BOT-A', '--wait', 'soon'], { dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^deia: --wait: cannot read "soon" as a duration \(.*2m.*\)\n$/);
  });

  it('send --ttl 2m is 120 seconds; --ttl 90 is 90 seconds', () => {
    const { dir } = tempHive();
    expect(deia(['register', 'BOT-B'], { dir }).code).toBe(0);
    const a = deia(['send', 'BOT-B', 'hi', '--as', 'BOT-A', '--ttl', '2m', '--json'], { dir });
    expect(json(a.stdout).ttl_seconds).toBe(120);
    const b = deia(['send', 'BOT-B', 'hi', '--as', 'BOT-A', '--ttl', '90', '--json'], { dir });
    expect(json(b.stdout).ttl_seconds).toBe(90);
    expect(deia(['send', 'BOT-B', 'hi', '--as', 'BOT-A', '--ttl', '1h'], { dir }).code).toBe(0);
  });

  it('a whole-number option is checked in one place, naming the flag', () => {
    const { dir } = tempHive();
    const r = deia(['task', 'list', '--limit', 'ten'], { dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deia: --limit must be a whole number 0 or more (got "ten") (e.g. --limit 1)\n');
  });
});

describe('identity: --as, then DEIA_BOT, then AGENT_NAME', () => {
  it('reads AGENT_NAME only when DEIA_BOT is unset, and --as wins over both', () => {
    const { dir } = tempHive();
    expect(deia(['register', 'BOT-B'], { dir }).code).toBe(0);
    const send = (env: Record<string, string>, extra: string[] = []) =>
      json(deia(['send', 'BOT-B', 'hi', '--json', ...extra], { dir, env }).stdout).from_bot;
    expect(send({ AGENT_NAME: 'AGENT-1' })).toBe('AGENT-1');
    expect(send({ AGENT_NAME: 'AGENT-1', DEIA_BOT: 'BOT-D' })).toBe('BOT-D');
    expect(send({ AGENT_NAME: 'AGENT-1', DEIA_BOT: 'BOT-D' }, ['--as', 'BOT-X'])).toBe('BOT-X');
  });
});

describe('messages that read naturally', () => {
  it('a missing argument names it and shows the usage', () => {
    const r = deia(['conversation', 'BOT-A']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("deia: missing required argument 'b' (usage: deia conversation <a> <b>)\n");
  });

  it('an unknown command suggests the whole command, with no stray semicolon', () => {
    expect(deia(['sned', 'x']).stderr).toBe("deia: unknown command 'sned' (did you mean `deia send`? see `deia --help`)\n");
    expect(deia(['task', 'strat']).stderr).toBe("deia: unknown command 'strat' (did you mean `deia task start`? see `deia task --help`)\n");
    expect(deia(['inbox', '--limt', '3']).stderr).toBe("deia: unknown option '--limt' (did you mean --limit? see `deia inbox --help`)\n");
  });
});

describe('--json errors', () => {
  it('print {"error":{code,message,hint}} on stdout and still one line on stderr', () => {
    const { dir } = tempHive();
    const cases: Array<[string[], number, string]> = [
      [['sned', '--json'], 2, 'EUNKNOWNCOMMAND'],
      [['inbox', '--bogus', '--json'], 2, 'EUNKNOWNOPTION'],
      [['conversation', 'A', '--json'], 2, 'EMISSINGARG'],
      [['inbox', '--json'], 2, 'EUSAGE'],
      [['task', 'show', 'nope', '--json'], 1, 'ENOHIVE'],
    ];
    for (const [args, code, errCode] of cases) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ')).toBe(code);
      const doc = json(r.stdout);
      expect(Object.keys(doc)).toEqual(['error']);
      expect(doc.error.code, args.join(' ')).toBe(errCode);
      expect(typeof doc.error.message).toBe('string');
      expect(r.stderr).toMatch(/^deia: [^\n]+\n$/);
      expect(r.stderr.startsWith(`deia: ${doc.error.message}`)).toBe(true);
    }
  });
});

describe('deia --version --json and completion', () => {
  it('--version --json is a document with the version', () => {
    const r = deia(['--version', '--json']);
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ name: 'deia', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(deia(['--version']).stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
  });

  it('bash completion completes commands, sub-commands, options and priorities', () => {
    const script = deia(['completion', 'bash']);
    expect(script.code).toBe(0);
    const probe = (words: string[]) => {
      const sh = `${script.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _deia; echo "\${COMPREPLY[*]}"`;
      return spawnSync('bash', ['-c', sh], { encoding: 'utf8' }).stdout.trim();
    };
    expect(probe(['deia', 'se'])).toBe('send');
    expect(probe(['deia', 'task', 's']).split(' ')).toEqual(['show', 'start', 'submit']);
    expect(probe(['deia', '--dir', '/tmp', 'task', 'l'])).toBe('list');
    expect(probe(['deia', 'inbox', '--w'])).toBe('--wait');
    expect(probe(['deia', 'exp'])).toBe('export');
    expect(probe(['deia', 'export', '--o'])).toBe('--out');
    const dirs = probe(['deia', 'export', '--out', 'sr']).split(' ');
    expect(dirs).toEqual(['src']); // a folder, as for --dir
    expect(probe(['deia', 'send', 'B', '--priority', ''])).toBe('P0 P1 P2 P3');
  });

  it('zsh and fish scripts are generated; an unknown shell is a usage error', () => {
    expect(deia(['completion', 'zsh']).stdout).toContain('bashcompinit');
    const fish = deia(['completion', 'fish']).stdout;
    expect(fish).toContain('complete -c deia');
    expect(fish).toMatch(/__fish_seen_subcommand_from task.*-a "dispatch done fail list show start submit"/);
    const bad = deia(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^deia: no completion for shell "tcsh" \(use one of bash, zsh, fish\)\n$/);
  });
});
