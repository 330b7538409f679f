/**
 * "Did you mean ...?" suggestions: the closest known word by edit distance (Levenshtein, with
 * adjacent transpositions counted as one edit), with extra credit for the usual slips in Istio
 * YAML: snake_case proto names (`retry_on` for `retryOn`) and wrong letter case (`RetryOn`).
 */

/** Optimal string alignment distance: insertions, deletions, substitutions, transpositions. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0]![j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** `retry_on` / `retry-on` -> `retryOn` */
export function toCamelCase(word: string): string {
  return word.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The candidate closest to `word`, or undefined when nothing is close enough to be a plausible
 * typo (at most a third of the word's length in edits, and never more than 3). A candidate that
 * merely continues the word (`FROM_REQUEST` -> `FROM_REQUEST_PORT`) also counts.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const lower = word.toLowerCase();
  const camel = toCamelCase(word);
  for (const c of list) {
    if (c === camel || c.toLowerCase() === lower || c.toLowerCase() === camel.toLowerCase()) return c;
  }
  if (lower.length >= 4) {
    const extended = list.filter((c) => c.toLowerCase().startsWith(lower)).sort((a, b) => a.length - b.length)[0];
    if (extended) return extended;
  }
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of list) {
    const dist = Math.min(editDistance(lower, c.toLowerCase()), editDistance(camel.toLowerCase(), c.toLowerCase()));
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  const allowed = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

/** `a`, `a or b`, `a, b or c` with backquotes. */
export function listWords(words: readonly string[], conjunction = 'or'): string {
  const q = words.map((w) => `\`${w}\``);
  if (q.length <= 1) return q.join('');
  return `${q.slice(0, -1).join(', ')} ${conjunction} ${q[q.length - 1]}`;
}
