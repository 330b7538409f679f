/**
 * A validation finding, as `meshbox validate`, hot reload and the TUI show it.
 *
 * Two levels, as in a cluster:
 * - `error`: what the Kubernetes API server would reject (YAML syntax, schema, types, ranges).
 *   A file with an error is not applied.
 * - `warning`: what `istioctl analyze` would flag (unknown host or subset, unreachable rule,
 *   conflicting resources). The config applies with Istio's runtime behaviour.
 * - `info`: things worth knowing that change nothing (a Kubernetes Deployment in the rules
 *   folder, which meshbox ignores).
 */
export type Severity = 'error' | 'warning' | 'info';

export interface SourceLocation {
  /** path as the user gave it (relative paths stay relative) */
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
}

export interface ResourceRef {
  kind: string;
  name: string;
  namespace: string;
}

export interface Finding {
  severity: Severity;
  /** stable code, e.g. `MB1001`; analyzer warnings also carry Istio's code in `istioCode` */
  code: string;
  /** the matching `istioctl analyze` code (IST0101, IST0130, ...) when there is one */
  istioCode?: string;
  message: string;
  /** what the user can do about it */
  hint?: string;
  location?: SourceLocation;
  resource?: ResourceRef;
}

export function formatLocation(loc: SourceLocation | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}` : '-';
}

/** One line per finding: `file:line:col: error MB1001 message (hint: ...)`. */
export function formatFinding(f: Finding): string {
  const where = f.location ? `${formatLocation(f.location)}: ` : '';
  const code = f.istioCode ? `${f.code}/${f.istioCode}` : f.code;
  const res = f.resource ? ` [${f.resource.kind} ${f.resource.namespace}/${f.resource.name}]` : '';
  const hint = f.hint ? `\n    hint: ${f.hint}` : '';
  return `${where}${f.severity} ${code}${res}: ${f.message}${hint}`;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}
