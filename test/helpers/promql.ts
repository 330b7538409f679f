/**
 * Just enough PromQL and Prometheus text format for tests that check dashboards' queries against
 * a real exposition: which series selectors and grouping labels a query uses, which series a
 * selector matches. Not an evaluator: rates, quantiles and arithmetic are not computed.
 */

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  metric: string;
  matchers: Matcher[];
  /** the selector as written, for messages */
  text: string;
}

export interface QueryUse {
  selectors: Selector[];
  /** labels of by(...), without(...), on(...) and ignoring(...) clauses */
  grouping: string[];
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['or', 'and', 'unless', 'bool', 'offset']);

type Token = { kind: 'ident' | 'string' | 'punct' | 'number'; text: string; start: number; end: number };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < q.length && q[j] !== c) {
        if (q[j] === '\\') {
          const n = q[j + 1];
          text += n === 'n' ? '\n' : (n ?? '');
          j += 2;
        } else text += q[j++];
      }
      if (j >= q.length) throw new Error(`unterminated string at ${i} in ${q}`);
      out.push({ kind: 'string', text, start: i, end: j + 1 });
      i = j + 1;
    } else if (c === '[') {
      const j = q.indexOf(']', i);
      if (j < 0) throw new Error(`unterminated range at ${i} in ${q}`);
      i = j + 1; // a range or subquery window: no labels in it
    } else if (/[A-Za-z_:]/.test(c)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(q.slice(i))!;
      out.push({ kind: 'ident', text: m[0], start: i, end: i + m[0].length });
      i += m[0].length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.eE]+/.exec(q.slice(i))!;
      out.push({ kind: 'number', text: m[0], start: i, end: i + m[0].length });
      i += m[0].length;
    } else {
      const two = q.slice(i, i + 2);
      const text = ['=~', '!~', '!=', '==', '>=', '<='].includes(two) ? two : c;
      out.push({ kind: 'punct', text, start: i, end: i + text.length });
      i += text.length;
    }
  }
  return out;
}

/** The series selectors and grouping labels of one PromQL expression. */
export function analyzeQuery(q: string): QueryUse {
  const t = tokenize(q);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    if (tok.kind !== 'ident') continue;
    const next = t[i + 1];
    if (GROUPING.has(tok.text) && next?.text === '(') {
      let j = i + 2;
      for (; j < t.length && t[j]!.text !== ')'; j++) if (t[j]!.kind === 'ident') grouping.push(t[j]!.text);
      i = j;
      continue;
    }
    if (next?.text === '(' || KEYWORDS.has(tok.text)) continue; // a function, an aggregation or an operator
    const matchers: Matcher[] = [];
    let end = tok.end;
    if (next?.text === '{') {
      let j = i + 2;
      while (j < t.length && t[j]!.text !== '}') {
        const [label, op, value] = [t[j], t[j + 1], t[j + 2]];
        if (label?.kind !== 'ident' || !op || !['=', '!=', '=~', '!~'].includes(op.text) || value?.kind !== 'string') {
          throw new Error(`cannot read the label matcher at ${label?.start ?? q.length} in ${q}`);
        }
        matchers.push({ label: label.text, op: op.text as Matcher['op'], value: value.text });
        j += 3;
        if (t[j]?.text === ',') j++;
      }
      if (j >= t.length) throw new Error(`unterminated selector in ${q}`);
      end = t[j]!.end;
      i = j;
    }
    selectors.push({ metric: tok.text, matchers, text: q.slice(tok.start, end) });
  }
  return { selectors, grouping };
}

/** Grafana's variable interpolation: `$name` and `${name}` */
export function interpolate(q: string, vars: Record<string, string>): string {
  return q.replace(/\$\{(\w+)\}|\$(\w+)/g, (_whole, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (!(name in vars)) throw new Error(`no value for the dashboard variable $${name} in ${q}`);
    return vars[name]!;
  });
}

export function matches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.label] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return new RegExp(`^(?:${m.value})$`).test(v);
    case '!~':
      return !new RegExp(`^(?:${m.value})$`).test(v);
  }
}

export function select(samples: readonly Sample[], s: Selector): Sample[] {
  return samples.filter((x) => x.name === s.metric && s.matchers.every((m) => matches(m, x.labels)));
}

/** Prometheus text exposition format (0.0.4) -> samples */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;
    let pos = 0;
    for (let lm = re.exec(body); lm; lm = re.exec(body)) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_x, ch: string) => (ch === 'n' ? '\n' : ch));
      pos = re.lastIndex;
    }
    if (pos !== body.length) throw new Error(`cannot read the labels of: ${line}`);
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}
