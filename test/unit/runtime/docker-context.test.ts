/** Build contexts: .dockerignore rules, walking, content hashing. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContextTooLargeError, dockerignoreMatcher, hashContext, walkContext } from '../../../sandbox/runtime/docker/context-files.js';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-ctx-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe('.dockerignore', () => {
  it('follows Docker’s rules: globs, **, folders, exceptions, last match wins', () => {
    const m = dockerignoreMatcher('# comment\nnode_modules\n*.log\n**/*.tmp\n/build/\ndocs/*.md\n!docs/keep.md\n');
    expect(m('node_modules', true)).toBe(true);
    expect(m('node_modules/x/index.js', false)).toBe(true);
    expect(m('app.log', false)).toBe(true);
    expect(m('sub/app.log', false)).toBe(false);
    expect(m('a/b/c.tmp', false)).toBe(true);
    expect(m('c.tmp', false)).toBe(true);
    expect(m('build/out.js', false)).toBe(true);
    expect(m('docs/readme.md', false)).toBe(true);
    expect(m('docs/keep.md', false)).toBe(false);
    expect(m('src/main.ts', false)).toBe(false);
    expect(m.hasExceptions).toBe(true);
    expect(dockerignoreMatcher('file?.txt\n[ab].js\n')('file1.txt', false)).toBe(true);
    expect(dockerignoreMatcher('[ab].js\n')('c.js', false)).toBe(false);
  });
});

describe('walkContext and hashContext', () => {
  it('lists files in a stable order, skips ignored and named folders', async () => {
    const dir = tree({ 'b.js': 'b', 'a/x.js': 'x', 'node_modules/m/index.js': 'm', '.git/HEAD': 'ref', 'a/skip.log': 'l' });
    const m = dockerignoreMatcher('node_modules\n*.log\n**/*.log\n');
    const files = await walkContext(dir, { ignore: m, skipNames: new Set(['.git']) });
    expect(files.map((f) => `${f.type}:${f.rel}`)).toEqual(['dir:a', 'file:a/x.js', 'file:b.js']);
  });

  it('follows symlinks when asked (a service folder copied into an image), else keeps them', async () => {
    const dir = tree({ 'real/lib.js': 'lib', 'app/main.js': 'main' });
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'app', 'lib'));
    symlinkSync(path.join(dir, 'app'), path.join(dir, 'app', 'loop'));
    const followed = await walkContext(path.join(dir, 'app'), { followSymlinks: true });
    expect(followed.filter((f) => f.type === 'file').map((f) => f.rel)).toEqual(['lib/lib.js', 'main.js']);
    const kept = await walkContext(path.join(dir, 'app'));
    expect(kept.map((f) => `${f.type}:${f.rel}`)).toEqual(['symlink:lib', 'symlink:loop', 'file:main.js']);
  });

  it('hashes content: same files give the same hash, one changed byte a new one', async () => {
    const a = tree({ 'main.js': 'console.log(1)', 'lib/x.js': 'x' });
    const b = tree({ 'main.js': 'console.log(1)', 'lib/x.js': 'x' });
    const c = tree({ 'main.js': 'console.log(2)', 'lib/x.js': 'x' });
    const h = async (d: string, extra: string[] = []): Promise<string> => hashContext(await walkContext(d), extra);
    expect(await h(a)).toBe(await h(b));
    expect(await h(a)).not.toBe(await h(c));
    expect(await h(a, ['base-1'])).not.toBe(await h(a, ['base-2']));
  });

  it('refuses a folder larger than the limit', async () => {
    const dir = tree({ 'a.bin': 'x'.repeat(2000) });
    await expect(walkContext(dir, { maxBytes: 1000 })).rejects.toBeInstanceOf(ContextTooLargeError);
  });
});
