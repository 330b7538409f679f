/**
 * Istio regexes are RE2 (Envoy's `safe_regex`) and match the whole string. meshbox runs them as
 * JavaScript RegExps, so validation accepts what both can do:
 * - a leading `(?i)` becomes the `i` flag (the only inline flag meshbox supports);
 * - constructs RE2 refuses (lookahead/lookbehind, backreferences) are errors, because the same
 *   file would be rejected by a real cluster even though JavaScript could run it;
 * - anything JavaScript cannot compile is an error with the engine's reason.
 */

export interface Re2Result {
  ok: boolean;
  /** present when ok: anchored (`^(?:...)$`) so `test` is a full-string match */
  regex?: RegExp;
  /** present when not ok */
  problem?: string;
  hint?: string;
}

export function compileRe2(source: string): Re2Result {
  let body = source;
  let flags = '';
  if (body.startsWith('(?i)')) {
    flags = 'i';
    body = body.slice(4);
  }
  const unsupported = re2Unsupported(body);
  if (unsupported) return { ok: false, ...unsupported };
  try {
    return { ok: true, regex: new RegExp(`^(?:${body})$`, flags) };
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '') : String(err);
    const hint = /^\(\?[a-zA-Z-]+[):]/.test(body)
      ? 'meshbox supports only a leading `(?i)` inline flag'
      : body.includes('(?P<')
        ? 'write named groups as `(?<name>...)`'
        : 'check brackets, parentheses and escapes; the syntax is RE2 (https://github.com/google/re2/wiki/Syntax)';
    return { ok: false, problem: reason, hint };
  }
}

function re2Unsupported(body: string): { problem: string; hint: string } | undefined {
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      const next = body[i + 1];
      if (!inClass && next !== undefined && /[1-9]/.test(next)) {
        return { problem: `backreference \\${next} is not supported by RE2`, hint: 'RE2 (used by Envoy) has no backreferences; rewrite the pattern without them' };
      }
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (body[i + 1] === ']') i++;
      continue;
    }
    if (c === '(' && body[i + 1] === '?') {
      const rest = body.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!') || rest === '<=' || rest === '<!') {
        return { problem: 'lookahead and lookbehind are not supported by RE2', hint: 'RE2 (used by Envoy) has no lookaround; rewrite the pattern without `(?=`, `(?!`, `(?<=` or `(?<!`' };
      }
    }
  }
  return undefined;
}
