/**
 * MB2040 (IST0127): a RequestAuthentication or AuthorizationPolicy whose selector matches no
 * workload of the mesh (or that lives in a namespace the mesh's workloads are not in): it
 * protects nothing, which is rarely what its author meant. The ingress gateway is a workload
 * here, as in Istio: a policy in `istio-system` whose selector matches its labels
 * (meshbox.yaml `ingress.labels`, default `istio: ingressgateway`) applies at the gateway; one
 * in the mesh's namespace that selects those labels is pointed to `istio-system`, where the
 * gateway runs.
 */
import type { AnalysisContext } from './context.js';
import { ROOT_NAMESPACE } from '../../security/authz-compile.js';
import { listWords } from '../did-you-mean.js';
import type { LoadedResource } from '../resource.js';

type Selecting = LoadedResource<string, { selector?: { matchLabels?: Record<string, string> } }>;

export function checkSecurityPolicies(ctx: AnalysisContext): void {
  const mesh = ctx.mesh;
  if (!mesh) return;
  const workloads = mesh.services.flatMap((s) => s.workloads);
  const policies = ctx.resources.filter((r): r is Selecting => r.kind === 'AuthorizationPolicy' || r.kind === 'RequestAuthentication');
  for (const p of policies) {
    const ns = p.metadata.namespace;
    if (ns !== mesh.namespace && ns !== ROOT_NAMESPACE) {
      ctx.report('POLICY_NO_WORKLOADS', p, ['metadata', 'namespace'], `namespace \`${ns}\` has no workload (the mesh's workloads are in \`${mesh.namespace}\`): this ${p.kind} applies to nothing`, `set \`metadata.namespace: ${mesh.namespace}\`, or \`${ROOT_NAMESPACE}\` for the whole mesh`);
      continue;
    }
    const labels = p.spec?.selector?.matchLabels;
    if (!labels) continue;
    if (workloads.some((w) => Object.entries(labels).every(([k, v]) => w.labels[k] === v))) continue;
    const gateway = Object.entries(labels).every(([k, v]) => mesh.ingress.labels[k] === v);
    if (gateway && ns === ROOT_NAMESPACE) continue;
    const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    ctx.report(
      'POLICY_NO_WORKLOADS',
      p,
      gateway ? ['metadata', 'namespace'] : ['spec', 'selector', 'matchLabels'],
      gateway
        ? `selector ${shown} matches the ingress gateway, which runs in \`${ROOT_NAMESPACE}\`, not in \`${ns}\`: this ${p.kind} applies to nothing`
        : `selector ${shown} matches no workload: this ${p.kind} applies to nothing`,
      gateway
        ? `set \`metadata.namespace: ${ROOT_NAMESPACE}\` to apply it at the ingress gateway`
        : `the workloads are ${listWords([...workloads.map((w) => `app=${w.labels['app']},version=${w.labels['version']}`), `the ingress gateway (${Object.entries(mesh.ingress.labels).map(([k, v]) => `${k}=${v}`).join(',')}, in ${ROOT_NAMESPACE})`], 'and')}`,
    );
  }
}
