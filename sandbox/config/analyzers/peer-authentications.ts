/**
 * MB2016 (IST0127): PeerAuthentications whose selector matches no workload of the mesh: they
 * apply to nothing (as `istioctl analyze` warns).
 */
import type { AnalysisContext } from './context.js';
import { isKind, type LoadedResource } from '../resource.js';
import { listWords } from '../did-you-mean.js';
import type { PeerAuthenticationSpec } from '../istio-types.js';

export function checkPeerAuthentications(ctx: AnalysisContext): void {
  const mesh = ctx.mesh;
  if (!mesh) return;
  const workloads = mesh.services.flatMap((s) => s.workloads);
  for (const r of ctx.resources) {
    if (!isKind(r, 'PeerAuthentication')) continue;
    const pa = r as LoadedResource<'PeerAuthentication', PeerAuthenticationSpec>;
    const sel = pa.spec.selector?.matchLabels;
    if (!sel || Object.keys(sel).length === 0) continue;
    const hits = pa.metadata.namespace === mesh.namespace ? workloads.filter((w) => Object.entries(sel).every(([k, v]) => w.labels[k] === v)) : [];
    if (hits.length > 0) continue;
    const written = Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(', ');
    ctx.report(
      'PEER_AUTHENTICATION_NO_WORKLOADS',
      pa,
      ['spec', 'selector', 'matchLabels'],
      pa.metadata.namespace === mesh.namespace
        ? `selector (${written}) matches no workload of the mesh: this PeerAuthentication applies to nothing`
        : `namespace ${pa.metadata.namespace} has no workloads (the mesh runs in ${mesh.namespace}): this PeerAuthentication applies to nothing`,
      `the workloads are ${listWords(workloads.map((w) => `${w.workload} (app=${w.labels['app']}, version=${w.labels['version']})`), 'and')}; fix the labels or the namespace`,
    );
  }
}
