/**
 * PeerAuthentication resolution, as istiod does it (security.istio.io/v1 PeerAuthentication):
 *
 *   workload policy (selector matches the workload's labels, in its namespace)
 *     > namespace policy (no selector, in its namespace)
 *     > mesh policy (no selector, in the root namespace `istio-system`)
 *     > PERMISSIVE.
 *
 * `UNSET` inherits from the next level; `portLevelMtls` (only honoured on a policy with a
 * selector) overrides the mode for one workload port, `UNSET` there inheriting the workload's
 * mode. Several policies at one level: Istio keeps the oldest; meshbox, which has no creation
 * times, keeps the first one loaded (file order), and `meshbox validate` warns about the others.
 */
export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

export const ROOT_NAMESPACE = 'istio-system';

export interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: MtlsMode };
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

export interface PeerAuthenticationPolicy {
  name: string;
  namespace: string;
  spec: PeerAuthenticationSpec;
  /** file:line:col, for explanations */
  location?: string;
}

export interface WorkloadSelectorTarget {
  namespace: string;
  labels: Record<string, string>;
  /** the workload port the listener serves */
  port: number;
}

export interface ResolvedMtls {
  mode: EffectiveMtlsMode;
  /** which policy (and level) decided, for explain() */
  source: string;
}

function selects(p: PeerAuthenticationPolicy, labels: Record<string, string>): boolean {
  const sel = p.spec.selector?.matchLabels;
  if (!sel || Object.keys(sel).length === 0) return false;
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

function hasSelector(p: PeerAuthenticationPolicy): boolean {
  return Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
}

function describe(p: PeerAuthenticationPolicy, level: string, field = 'mtls.mode'): string {
  return `PeerAuthentication ${p.namespace}/${p.name} (${level}, ${field})${p.location ? ` at ${p.location}` : ''}`;
}

export class PeerAuthenticationResolver {
  constructor(
    private readonly policies: readonly PeerAuthenticationPolicy[],
    private readonly rootNamespace = ROOT_NAMESPACE,
  ) {}

  /** the policies that apply to a workload, most specific first */
  levels(target: Omit<WorkloadSelectorTarget, 'port'>): { workload?: PeerAuthenticationPolicy; namespace?: PeerAuthenticationPolicy; mesh?: PeerAuthenticationPolicy } {
    const workload = this.policies.find((p) => p.namespace === target.namespace && selects(p, target.labels));
    const namespace = target.namespace === this.rootNamespace ? undefined : this.policies.find((p) => p.namespace === target.namespace && !hasSelector(p));
    const mesh = this.policies.find((p) => p.namespace === this.rootNamespace && !hasSelector(p));
    return { workload, namespace, mesh };
  }

  resolve(target: WorkloadSelectorTarget): ResolvedMtls {
    const { workload, namespace, mesh } = this.levels(target);
    let resolved: ResolvedMtls = { mode: 'PERMISSIVE', source: 'no PeerAuthentication: Istio default PERMISSIVE' };
    const apply = (p: PeerAuthenticationPolicy | undefined, level: string): void => {
      const m = p?.spec.mtls?.mode;
      if (p && m && m !== 'UNSET') resolved = { mode: m, source: describe(p, level) };
    };
    apply(mesh, 'mesh-wide');
    apply(namespace, `namespace ${target.namespace}`);
    apply(workload, 'workload selector');
    const port = workload?.spec.portLevelMtls?.[String(target.port)]?.mode;
    if (workload && port && port !== 'UNSET') resolved = { mode: port, source: describe(workload, 'workload selector', `portLevelMtls[${target.port}]`) };
    return resolved;
  }

  /** policies that select no workload of `workloads` (istioctl analyze: IST0151-like warning) */
  unused(workloads: ReadonlyArray<{ namespace: string; labels: Record<string, string> }>): PeerAuthenticationPolicy[] {
    return this.policies.filter((p) => hasSelector(p) && !workloads.some((w) => w.namespace === p.namespace && selects(p, w.labels)));
  }
}
