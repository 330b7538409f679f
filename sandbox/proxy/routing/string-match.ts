/**
 * Istio's StringMatch (exact | prefix | regex) compiled once per snapshot.
 *
 * - exact and prefix are case-sensitive unless `ignoreCase` (VirtualService `ignoreUriCase`,
 *   which only relaxes exact/prefix, as in Istio);
 * - regex is RE2 in Istio and must match the whole string; a leading `(?i)` turns on case
 *   folding (JavaScript RegExp has no inline flags, so it becomes the `i` flag);
 * - an empty StringMatch (`{}`) checks presence only.
 */
import type { StringMatch } from '../../config/istio-types.js';

export interface CompiledStringMatch {
  /** true when the value satisfies the match; `undefined` means "absent" */
  test(value: string | undefined): boolean;
  explain(): string;
}

export function compileRegex(source: string): RegExp {
  let flags = '';
  let body = source;
  if (body.startsWith('(?i)')) {
    flags = 'i';
    body = body.slice(4);
  }
  return new RegExp(`^(?:${body})$`, flags);
}

export function compileStringMatch(m: StringMatch, ignoreCase = false): CompiledStringMatch {
  if (m.exact !== undefined) {
    const expected = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return {
      test: (v) => v !== undefined && (ignoreCase ? v.toLowerCase() : v) === expected,
      explain: () => `exact "${m.exact}"${ignoreCase ? ' (ignoring case)' : ''}`,
    };
  }
  if (m.prefix !== undefined) {
    const expected = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return {
      test: (v) => v !== undefined && (ignoreCase ? v.toLowerCase() : v).startsWith(expected),
      explain: () => `prefix "${m.prefix}"${ignoreCase ? ' (ignoring case)' : ''}`,
    };
  }
  if (m.regex !== undefined) {
    const re = compileRegex(m.regex);
    return {
      test: (v) => v !== undefined && re.test(v),
      explain: () => `regex "${m.regex}"`,
    };
  }
  return { test: (v) => v !== undefined, explain: () => 'present' };
}
