/**
 * MB2040 (IST0127): a RequestAuthentication or AuthorizationPolicy whose selector matches no
 * workload of the mesh (or that lives in a namespace the mesh's workloads are not in): it
 * protects nothing, which is rarely what its author meant. One that selects the ingress gateway
 * is reported as recognised but not applied (MB1117): meshbox enforces policies on sidecars.
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
    if (ns === ROOT_NAMESPACE && Object.entries(labels).every(([k, v]) => mesh.ingress.labels[k] === v)) {
      ctx.report('FIELD_NOT_APPLIED', p, ['spec', 'selector'], `spec.selector selects the ingress gateway, which is recognised but not applied by this meshbox version: meshbox enforces ${p.kind} on sidecars (inbound) only`, 'select the workloads behind the gateway instead (e.g. `app: caller-service`); on a real cluster the policy applies at the gateway');
      continue;
    }
    const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    ctx.report(
      'POLICY_NO_WORKLOADS',
      p,
      ['spec', 'selector', 'matchLabels'],
      `selector ${shown} matches no workload: this ${p.kind} applies to nothing`,
      `the workloads are ${listWords(workloads.map((w) => `app=${w.labels['app']},version=${w.labels['version']}`), 'and')}`,
    );
  }
}
