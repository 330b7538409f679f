/** The tar writer: archives GNU tar reads back byte for byte, long names, links, streamed files. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tarBuffer, tarChunks, type TarEntry } from '../../../sandbox/runtime/docker/tar.js';

function extract(archive: Buffer): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tar-'));
  const file = path.join(dir, 'a.tar');
  writeFileSync(file, archive);
  execFileSync('tar', ['-xf', file, '-C', dir]);
  return dir;
}

describe('tar writer', () => {
  it('writes files, folders and symlinks that tar extracts exactly', async () => {
    const src = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tar-src-'));
    const big = Buffer.alloc(70_000, 7);
    writeFileSync(path.join(src, 'big.bin'), big);
    const entries: TarEntry[] = [
      { type: 'dir', name: 'app' },
      { type: 'file', name: 'app/hello.txt', data: 'hello\n' },
      { type: 'file', name: '/app/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { type: 'file', name: 'app/big.bin', source: path.join(src, 'big.bin'), size: big.length },
      { type: 'symlink', name: 'app/link', target: 'hello.txt' },
    ];
    const archive = await tarBuffer(entries);
    expect(archive.length % 512).toBe(0);
    const out = extract(archive);
    expect(readFileSync(path.join(out, 'app/hello.txt'), 'utf8')).toBe('hello\n');
    expect(statSync(path.join(out, 'app/run.sh')).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(out, 'app/big.bin')).equals(big)).toBe(true);
    expect(readlinkSync(path.join(out, 'app/link'))).toBe('hello.txt');
  });

  it('keeps names longer than 100 bytes (ustar prefix, then PAX)', async () => {
    const medium = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.txt`;
    const long = `${'x'.repeat(120)}/${'y'.repeat(130)}/z.txt`;
    const out = extract(await tarBuffer([{ type: 'file', name: medium, data: 'm' }, { type: 'file', name: long, data: 'l' }]));
    expect(readFileSync(path.join(out, medium), 'utf8')).toBe('m');
    expect(readFileSync(path.join(out, long), 'utf8')).toBe('l');
    const listing = execFileSync('tar', ['-tf', '-'], { input: await tarBuffer([{ type: 'file', name: long, data: 'l' }]) }).toString();
    expect(listing.trim()).toBe(long);
  });

  it('refuses a file that changed size while it was archived', async () => {
    const src = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tar-src-'));
    writeFileSync(path.join(src, 'f'), 'abc');
    const run = async (): Promise<void> => {
      for await (const _ of tarChunks([{ type: 'file', name: 'f', source: path.join(src, 'f'), size: 10 }])) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow(/shrank/);
  });

  it('is reproducible: the same entries give the same bytes', async () => {
    const e: TarEntry[] = [{ type: 'file', name: 'a', data: 'x' }];
    expect((await tarBuffer(e)).equals(await tarBuffer(e))).toBe(true);
  });
});
