/**
 * MB2005 (IST0101): VirtualServices bound to Gateways that do not exist;
 * MB2006 (IST0132): VirtualService hosts that the bound Gateway's servers do not serve;
 * MB2015 (IST0101): Gateways whose selector matches no gateway proxy of the mesh.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';
import { gatewayHostAdmits, gatewayKey } from '../hosts.js';
import { closestMatch, listWords } from '../did-you-mean.js';
import type { Gateway } from '../resource.js';

export function checkGatewayBindings(ctx: AnalysisContext): void {
  const gateways = new Map<string, Gateway>(ctx.gateways.map((g) => [`${g.metadata.namespace}/${g.metadata.name}`, g]));
  const names = ctx.gateways.map((g) => g.metadata.name);
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    const refs: Array<{ ref: string; path: Array<string | number> }> = (vs.spec.gateways ?? []).map((ref, i) => ({ ref, path: ['spec', 'gateways', i] }));
    (vs.spec.http ?? []).forEach((route, i) =>
      (route.match ?? []).forEach((m, j) => (m.gateways ?? []).forEach((ref, k) => refs.push({ ref, path: ['spec', 'http', i, 'match', j, 'gateways', k] }))),
    );
    const checked = new Set<string>();
    for (const { ref, path } of refs) {
      if (ref === 'mesh') continue;
      const key = gatewayKey(ref, ns);
      const gw = gateways.get(key);
      if (!gw) {
        const guess = closestMatch(ref.split('/').pop()!, names);
        ctx.report(
          'GATEWAY_NOT_FOUND',
          vs,
          path,
          `gateway \`${ref}\` not found (looked for Gateway ${key}): these routes do not apply at any gateway`,
          guess ? `did you mean \`${guess}\`?` : `define a Gateway named ${key.split('/')[1]} in namespace ${key.split('/')[0]}, or fix the name`,
        );
        continue;
      }
      if (path[1] !== 'gateways' || checked.has(key)) continue;
      checked.add(key);
      const serverHosts = (gw.spec.servers ?? []).flatMap((s) => s.hosts);
      (vs.spec.hosts ?? []).forEach((host, i) => {
        if (serverHosts.some((sh) => gatewayHostAdmits(sh, host, ns, gw.metadata.namespace))) return;
        ctx.report(
          'HOST_NOT_IN_GATEWAY',
          vs,
          ['spec', 'hosts', i],
          `host \`${host}\` is not served by ${refName(gw)} (it serves ${listWords(serverHosts, 'and')}): requests for it at that gateway get 404`,
          `add \`${host}\` to a server's hosts of ${refName(gw)}, or use one of its hosts here`,
        );
      });
    }
  }
  const mesh = ctx.mesh;
  if (!mesh) return;
  for (const gw of ctx.gateways) {
    const selector = gw.spec.selector ?? {};
    const matches = Object.entries(selector).every(([k, v]) => mesh.ingress.labels[k] === v);
    if (matches) continue;
    ctx.report(
      'GATEWAY_SELECTOR_NO_MATCH',
      gw,
      ['spec', 'selector'],
      `the selector ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',')} matches no gateway proxy: meshbox's ingress gateway has the labels ${Object.entries(mesh.ingress.labels).map(([k, v]) => `${k}=${v}`).join(',')}`,
      'use `selector: {istio: ingressgateway}`, or set `ingress.labels` in meshbox.yaml',
    );
  }
}
