/**
 * Which proxy a route's match block is for: Istio decides `sourceLabels`, `sourceNamespace` and a
 * block's own `gateways` when it builds a proxy's configuration, not per request. A sidecar's
 * scope is its workload's labels and `mesh`; the ingress gateway's its labels and its Gateway names.
 */
export interface MatchScope {
  /** `mesh` for sidecars, `<ns>/<name>` and `<name>` of the gateway otherwise */
  gateway: string;
  gatewayNames?: string[];
  labels: Record<string, string>;
  namespace: string;
}

export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** Istio's sourceMatch: a block's own gateways decide alone; otherwise its sourceLabels and sourceNamespace must fit the proxy */
export function blockApplies(b: { gateways?: string[]; sourceLabels?: Record<string, string>; sourceNamespace?: string }, scope: MatchScope): boolean {
  if (b.gateways && b.gateways.length > 0) {
    const names = scope.gateway === 'mesh' ? ['mesh'] : (scope.gatewayNames ?? []);
    return b.gateways.some((g) => names.includes(g));
  }
  return labelsMatch(b.sourceLabels, scope.labels) && (!b.sourceNamespace || b.sourceNamespace === scope.namespace);
}
