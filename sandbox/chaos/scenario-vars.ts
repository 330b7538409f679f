/**
 * Variables: `vars:` in the scenario, overridden by `--var name=value`, replace `${name}` in any
 * string of the scenario. A string that is only `${name}` takes the variable's value with its
 * type (`rate: ${rate}` stays a number); inside a longer string the value is inserted as text.
 * `$${` writes a literal `${`.
 */
import type { Finding } from '../config/findings.js';
import type { YamlPath } from '../config/yaml-source.js';
import type { SourceLocation } from '../config/findings.js';
import { closestMatch } from '../config/did-you-mean.js';
import { scenarioFinding } from './scenario-codes.js';
import type { VarValue } from './scenario-types.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const REF = /\$\$\{|\$\{([^}]*)\}/g;

/** `rate=50` -> ['rate', 50]; `host=a.example.com` -> string; `on=true` -> boolean */
export function parseVarAssignment(text: string): [string, VarValue] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--var ${JSON.stringify(text)} is not name=value`);
  const name = text.slice(0, eq).trim();
  if (!NAME.test(name)) throw new Error(`--var ${JSON.stringify(text)}: ${JSON.stringify(name)} is not a variable name (letters, digits, _ . -)`);
  const raw = text.slice(eq + 1);
  if (raw === 'true' || raw === 'false') return [name, raw === 'true'];
  if (/^-?\d+(\.\d+)?$/.test(raw.trim())) return [name, Number(raw)];
  return [name, raw];
}

export interface SubstituteResult {
  value: unknown;
  findings: Finding[];
  /** names that were used */
  used: Set<string>;
}

/** Replaces `${name}` in every string below `value` (keys are left alone). */
export function substituteVars(value: unknown, vars: Readonly<Record<string, VarValue>>, locate: (path: YamlPath) => SourceLocation | undefined, skip: (path: YamlPath) => boolean = () => false): SubstituteResult {
  const findings: Finding[] = [];
  const used = new Set<string>();
  const names = Object.keys(vars);
  const visit = (v: unknown, path: Array<string | number>): unknown => {
    if (skip(path)) return v;
    if (typeof v === 'string') {
      if (!v.includes('${')) return v;
      const whole = /^\$\{([^}]*)\}$/.exec(v);
      if (whole) {
        const name = whole[1]!.trim();
        if (name in vars) {
          used.add(name);
          return vars[name];
        }
      }
      return v.replace(REF, (m, raw: string | undefined) => {
        if (m === '$${') return '${';
        const name = (raw ?? '').trim();
        if (name in vars) {
          used.add(name);
          return String(vars[name]);
        }
        const guess = closestMatch(name, names);
        findings.push(
          scenarioFinding(
            'UNKNOWN_VARIABLE',
            `\${${name}} names no variable${names.length ? ` (variables: ${names.join(', ')})` : ''}`,
            locate(path),
            guess ? `did you mean \`\${${guess}}\`?` : `define it under \`vars:\` or pass --var ${name}=VALUE (write $\${ for a literal \${)`,
          ),
        );
        return m;
      });
    }
    if (Array.isArray(v)) return v.map((item, i) => visit(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = visit(item, [...path, k]);
      return out;
    }
    return v;
  };
  return { value: visit(value, []), findings, used };
}
