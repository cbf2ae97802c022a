import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileBackend } from '../src/store/file/backend.js';
import { Store } from '../src/store/store.js';

const rec = (n: number) => ({ n, pad: 'x'.repeat(50) });

describe('a cursor reader of a log across rotations (file backend)', () => {
  it('a cursor taken while the live log was missing (just rotated) still reads a generation rotated before the next read', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-rotate-reader-'));
    const b = openFileBackend(dir, { markLayout: true });
    const log = b.log<{ n: number }>('bot-messaging');
    await log.append([rec(1), rec(2)]);
    let r = await log.readSince(undefined);
    let cur = r.cursor;
    await log.rotate!({ maxBytes: 10, generations: 3 }); // live gone
    r = await log.readSince(cur);
    cur = r.cursor;
    
    await log.append([rec(3), rec(4)]);
    await log.rotate!({ maxBytes: 10, generations: 3 });
    await log.append([rec(5)]);
    r = await log.readSince(cur);
    
    expect(r.records.map((x) => x.n)).toEqual([3, 4, 5]);
  });

  it('a rotation between the reader\'s stat and its read: the rest of the old live file is read, then the new one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-rotate-reader-'));
    const b = openFileBackend(dir, { markLayout: true });
    const log = b.log<{ n: number }>('bot-messaging');
    await log.append([rec(1)]);
    const cur = (await log.readSince(undefined)).cursor;
    await log.append([rec(2), rec(3)]); // not read yet
    const orig = Store.prototype.cursorAtEnd;
    let once = true;
    Store.prototype.cursorAtEnd = function (this: Store, rel: string) {
      const out = orig.call(this, rel);
      if (once && rel === 'bot-messaging.jsonl') {
        once = false;
        // another process's cleanup rotates now, and a send appends
        fs.renameSync(path.join(dir, 'bot-messaging.jsonl'), path.join(dir, 'bot-messaging.1.jsonl'));
        fs.writeFileSync(path.join(dir, 'bot-messaging.jsonl'), JSON.stringify(rec(4)) + '\n');
      }
      return out;
    };
    try {
      const r = await log.readSince(cur);
      
      expect(r.records.map((x) => x.n)).toEqual([2, 3, 4]);
    } finally {
      Store.prototype.cursorAtEnd = orig;
    }
  });
});
