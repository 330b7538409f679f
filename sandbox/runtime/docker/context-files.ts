/**
 * The files of a build context or of a service folder: walked in a stable order, filtered by
 * `.dockerignore`, hashed by content (so an image is rebuilt only when its sources changed), and
 * turned into tar entries.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TarEntry } from './tar.js';

export interface ContextFile {
  /** path relative to the root, `/`-separated */
  rel: string;
  abs: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  /** symlinks: the link text */
  target?: string;
}

export interface WalkOptions {
  /** true for a path to leave out (relative, `/`-separated) */
  ignore?: (rel: string, isDir: boolean) => boolean;
  /** copy what symlinks point at instead of the links (a service folder copied into an image) */
  followSymlinks?: boolean;
  /** refuse contexts bigger than this many bytes */
  maxBytes?: number;
  /** folder names never copied */
  skipNames?: ReadonlySet<string>;
}

export class ContextTooLargeError extends Error {
  constructor(
    readonly root: string,
    readonly bytes: number,
  ) {
    super(`${root} holds more than ${Math.round(bytes / 1024 / 1024)} MB`);
  }
}

/** every file, folder and symlink under root, sorted by path */
export async function walkContext(root: string, opts: WalkOptions = {}): Promise<ContextFile[]> {
  const out: ContextFile[] = [];
  let total = 0;
  const seenDirs = new Set<string>();
  const walk = async (absDir: string, relDir: string): Promise<void> => {
    const real = await realpath(absDir);
    if (seenDirs.has(real)) return; // a symlink cycle
    seenDirs.add(real);
    const names = (await readdir(absDir)).sort();
    for (const name of names) {
      if (opts.skipNames?.has(name)) continue;
      const abs = path.join(absDir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      let st = await lstat(abs);
      if (st.isSymbolicLink()) {
        if (!opts.followSymlinks) {
          if (opts.ignore?.(rel, false)) continue;
          out.push({ rel, abs, type: 'symlink', mode: 0o777, size: 0, target: await readlink(abs) });
          continue;
        }
        try {
          st = await stat(abs);
        } catch {
          continue; // a dangling link: nothing to copy
        }
      }
      if (st.isDirectory()) {
        if (opts.ignore?.(rel, true) && !mayReinclude(opts.ignore)) continue;
        if (!opts.ignore?.(rel, true)) out.push({ rel, abs, type: 'dir', mode: st.mode & 0o7777, size: 0 });
        await walk(abs, rel);
      } else if (st.isFile()) {
        if (opts.ignore?.(rel, false)) continue;
        total += st.size;
        if (opts.maxBytes !== undefined && total > opts.maxBytes) throw new ContextTooLargeError(root, opts.maxBytes);
        out.push({ rel, abs, type: 'file', mode: st.mode & 0o7777, size: st.size });
      }
    }
  };
  await walk(root, '');
  return out;
}

function mayReinclude(ignore: WalkOptions['ignore']): boolean {
  return (ignore as { hasExceptions?: boolean } | undefined)?.hasExceptions === true;
}

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 over names, modes and contents (plus `extra` strings: a Dockerfile, build args ...) */
export async function hashContext(files: readonly ContextFile[], extra: readonly string[] = []): Promise<string> {
  const h = createHash('sha256');
  for (const x of extra) h.update(`extra\0${x}\n`);
  for (const f of files) {
    const what = f.type === 'file' ? await fileDigest(f.abs) : f.type === 'symlink' ? (f.target ?? '') : '';
    h.update(`${f.type}\0${f.rel}\0${(f.mode & 0o111) !== 0 ? 'x' : '-'}\0${what}\n`);
  }
  return h.digest('hex');
}

/** tar entries for the files, under `prefix` in the archive */
export function contextEntries(files: readonly ContextFile[], prefix = ''): TarEntry[] {
  const p = prefix ? `${prefix.replace(/\/+$/, '')}/` : '';
  return files.map((f): TarEntry => {
    if (f.type === 'dir') return { type: 'dir', name: `${p}${f.rel}`, mode: f.mode | 0o755 };
    if (f.type === 'symlink') return { type: 'symlink', name: `${p}${f.rel}`, target: f.target ?? '' };
    return { type: 'file', name: `${p}${f.rel}`, mode: f.mode | 0o444, source: f.abs, size: f.size };
  });
}

/**
 * A `.dockerignore` matcher with Docker's rules: one pattern a line, `#` comments, Go
 * filepath.Match globs plus `**`, a leading `!` re-includes, the last matching line wins, and a
 * pattern matching a folder excludes what it holds.
 */
export function dockerignoreMatcher(text: string): ((rel: string, isDir: boolean) => boolean) & { hasExceptions: boolean } {
  const rules: Array<{ re: RegExp; exception: boolean }> = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const exception = line.startsWith('!');
    if (exception) line = line.slice(1).trim();
    line = path.posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (!line || line === '.') continue;
    rules.push({ re: globToRegExp(line), exception });
  }
  const matcher = (rel: string): boolean => {
    const candidates: string[] = [];
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) candidates.push(parts.slice(0, i).join('/'));
    let excluded = false;
    for (const r of rules) {
      if (candidates.some((c) => r.re.test(c))) excluded = !r.exception;
    }
    return excluded;
  };
  return Object.assign((rel: string) => matcher(rel), { hasExceptions: rules.some((r) => r.exception) });
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        re += '\\[';
      } else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (ch === '\\' && i + 1 < glob.length) {
      re += `\\${glob[++i]}`;
    } else {
      re += /[.+^${}()|\]\\/]/.test(ch) ? `\\${ch}` : ch;
    }
  }
  return new RegExp(`^${re}$`);
}
