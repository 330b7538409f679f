/**
 * MB2004 (IST0101): DestinationRules for hosts that are not mesh services;
 * MB2003 (IST0127): subsets whose labels select no workload;
 * MB2010: several DestinationRules for one host, merged as Istio merges them.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';
import { meshServiceForHost, resolveHost } from '../hosts.js';
import { closestMatch, listWords } from '../did-you-mean.js';
import type { DestinationRule } from '../resource.js';
import { declaredByServiceEntry } from './service-entries.js';

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function checkDestinationRules(ctx: AnalysisContext): void {
  const mesh = ctx.mesh;
  if (mesh) {
    for (const dr of ctx.destinationRules) {
      if (dr.spec.host.startsWith('*')) continue;
      const svc = meshServiceForHost(mesh, dr.spec.host, dr.metadata.namespace);
      if (!svc && declaredByServiceEntry(ctx, dr.spec.host)) continue;
      if (!svc) {
        const guess = closestMatch(dr.spec.host.split('.')[0]!, mesh.services.map((s) => s.name));
        ctx.report(
          'DESTINATION_RULE_HOST_NOT_FOUND',
          dr,
          ['spec', 'host'],
          `host \`${dr.spec.host}\` is not a service of this mesh: this DestinationRule has no effect`,
          guess ? `did you mean \`${guess}\`?` : `the mesh has ${listWords(mesh.services.map((s) => s.name), 'and')}`,
        );
        continue;
      }
      (dr.spec.subsets ?? []).forEach((subset, i) => {
        const labels = subset.labels ?? {};
        const selected = svc.workloads.some((w) => Object.entries(labels).every(([k, v]) => w.labels[k] === v));
        if (selected) return;
        const have = svc.workloads.map((w) => `version=${w.version}`);
        ctx.report(
          'SUBSET_NO_WORKLOADS',
          dr,
          ['spec', 'subsets', i, 'labels'],
          `subset \`${subset.name}\` (${formatLabels(labels)}) selects no workload of ${svc.name}: requests routed to it get 503 UH (no healthy upstream)`,
          `the workloads of ${svc.name} are ${listWords(have, 'and')}; fix the labels or add the version to meshbox.yaml`,
        );
      });
    }
  }
  reportMergedRules(ctx);
}

function reportMergedRules(ctx: AnalysisContext): void {
  const byHost = new Map<string, DestinationRule[]>();
  for (const dr of ctx.destinationRules) {
    if (dr.spec.workloadSelector) continue;
    const key = resolveHost(dr.spec.host, dr.metadata.namespace);
    byHost.set(key, [...(byHost.get(key) ?? []), dr]);
  }
  for (const rules of byHost.values()) {
    const [first, ...later] = rules;
    if (!first) continue;
    const seen = new Set((first.spec.subsets ?? []).map((s) => s.name));
    for (const dr of later) {
      const dropped = (dr.spec.subsets ?? []).map((s) => s.name).filter((n) => seen.has(n));
      for (const s of dr.spec.subsets ?? []) seen.add(s.name);
      const notes = [
        dr.spec.trafficPolicy ? 'its trafficPolicy is ignored' : '',
        dropped.length ? `its subset${dropped.length > 1 ? 's' : ''} ${listWords(dropped, 'and')} ${dropped.length > 1 ? 'are' : 'is'} ignored (defined earlier)` : '',
      ].filter(Boolean);
      ctx.report(
        'CONFLICTING_DESTINATION_RULES',
        dr,
        ['spec', 'host'],
        `${refName(dr)} and ${refName(first)} both apply to host \`${dr.spec.host}\`: as in Istio, their subsets are merged and only the trafficPolicy of ${refName(first)} (the first by file name, then document order) is used${notes.length ? `; ${notes.join(', ')}` : ''}`,
        'keep one DestinationRule per host to avoid surprises',
      );
    }
  }
}
