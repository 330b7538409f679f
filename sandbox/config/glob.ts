/**
 * Glob patterns for `watch:` in meshbox.yaml (chokidar 4+ no longer expands globs itself).
 *
 *   **        any number of path segments (also none): `src/**` + `/*.ts` covers src/a.ts and src/x/y/a.ts
 *   *         any characters within one segment          ?   one character within a segment
 *   {a,b}     alternatives                               [a-z]  a character class ([!a-z] negated)
 *
 * Patterns are absolute (mesh-builder resolves them against the meshbox.yaml folder). A pattern
 * without any of these characters is a plain path: it matches that file, or everything below that
 * folder.
 */
import path from 'node:path';

const GLOB_CHARS = /[*?{}[\]]/;

export function isGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

/** The folder a pattern's matches live under: its segments before the first one with a glob character. */
export function globBase(pattern: string): string {
  if (!isGlob(pattern)) return pattern;
  const parts = pattern.split(path.sep);
  const fixed: string[] = [];
  for (const p of parts) {
    if (isGlob(p)) break;
    fixed.push(p);
  }
  return fixed.join(path.sep) || path.sep;
}

function escape(ch: string): string {
  return /[\\^$.|+()[\]{}*?/]/.test(ch) ? `\\${ch}` : ch;
}

/** The body of a regular expression for one pattern (no anchors). */
function globSource(pattern: string): string {
  let out = '';
  let i = 0;
  let braces = 0;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        const atStart = i === 0 || pattern[i - 1] === '/';
        const atEnd = i + 2 === pattern.length || pattern[i + 2] === '/';
        if (atStart && atEnd) {
          // `**/` : zero or more whole segments; a trailing `**` : everything below
          if (i + 2 === pattern.length) out += '.*';
          else out += '(?:[^/]*/)*';
          i += i + 2 === pattern.length ? 2 : 3;
          continue;
        }
        out += '[^/]*';
        i += 2;
        continue;
      }
      out += '[^/]*';
      i++;
      continue;
    }
    if (ch === '?') {
      out += '[^/]';
      i++;
      continue;
    }
    if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close > 0) {
        let cls = pattern.slice(i + 1, close);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        out += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close + 1;
        continue;
      }
      out += '\\[';
      i++;
      continue;
    }
    if (ch === '{') {
      braces++;
      out += '(?:';
      i++;
      continue;
    }
    if (ch === '}' && braces > 0) {
      braces--;
      out += ')';
      i++;
      continue;
    }
    if (ch === ',' && braces > 0) {
      out += '|';
      i++;
      continue;
    }
    out += escape(ch);
    i++;
  }
  while (braces-- > 0) out += ')';
  return out;
}

/**
 * A predicate for absolute paths. A glob matches whole paths; a plain path matches itself and
 * everything below it. With `orAncestor`, a path also matches when one of its folders does
 * (`ignore: [node_modules]` ignores everything inside node_modules).
 */
export function globMatcher(patterns: readonly string[], opts: { orAncestor?: boolean } = {}): (file: string) => boolean {
  if (patterns.length === 0) return () => false;
  const sources = patterns.map((p) => {
    const norm = p.split(path.sep).join('/');
    if (!isGlob(norm)) return `${[...norm.replace(/\/+$/, '')].map(escape).join('')}(?:/.*)?`;
    return globSource(norm);
  });
  const suffix = opts.orAncestor ? '(?:/.*)?' : '';
  const re = new RegExp(`^(?:${sources.map((s) => `(?:${s})`).join('|')})${suffix}$`);
  return (file) => re.test(file.split(path.sep).join('/'));
}
