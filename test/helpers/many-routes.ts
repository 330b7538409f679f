/**
 * A VirtualService with many routes, for the route-table scale test and bench: `count - 1`
 * tenant routes (`uri.prefix: /callme/tenant-<i>/` and header `x-tenant: t<i>`, alternately to
 * subsets v2 and v1), then the sample's default route (80 % v2 / 20 % v1, retries, 0.5 s timeout).
 * A request to `/callme/ping` skips every tenant route and takes the last one: the worst case of a
 * first-match table.
 */

export interface ManyRoutesOptions {
  count: number;
  /** VirtualService name (default `callme-service-route`) */
  name?: string;
  /** the service routed (default `callme-service`); its subsets are v1 and v2 */
  host?: string;
  /** weight of v2 in the default route (v1 gets the rest; default 80) */
  v2Weight?: number;
}

export function manyRoutesVirtualService(o: ManyRoutesOptions): string {
  const v2 = o.v2Weight ?? 80;
  const host = o.host ?? 'callme-service';
  const lines = [
    'apiVersion: networking.istio.io/v1beta1',
    'kind: VirtualService',
    'metadata:',
    `  name: ${o.name ?? `${host}-route`}`,
    'spec:',
    '  hosts:',
    `    - ${host}`,
    '  http:',
  ];
  for (let i = 0; i < o.count - 1; i++) {
    lines.push(
      `    - name: tenant-${i}`,
      '      match:',
      '        - uri:',
      `            prefix: /callme/tenant-${i}/`,
      '          headers:',
      '            x-tenant:',
      `              exact: t${i}`,
      '      route:',
      '        - destination:',
      `            host: ${host}`,
      `            subset: ${i % 2 === 0 ? 'v2' : 'v1'}`,
    );
  }
  lines.push(
    '    - name: default',
    '      route:',
    '        - destination:',
    `            host: ${host}`,
    '            subset: v2',
    `          weight: ${v2}`,
    '        - destination:',
    `            host: ${host}`,
    '            subset: v1',
    `          weight: ${100 - v2}`,
    '      retries:',
    '        attempts: 3',
    '        retryOn: gateway-error,connect-failure,refused-stream',
    '      timeout: 0.5s',
  );
  return `${lines.join('\n')}\n`;
}

/** The sample's callme-service DestinationRule (subsets v1, v2) followed by the big VirtualService. */
export function manyRoutesRulesFile(o: ManyRoutesOptions): string {
  return [
    'apiVersion: networking.istio.io/v1beta1',
    'kind: DestinationRule',
    'metadata:',
    `  name: ${o.host ?? 'callme-service'}-destination`,
    'spec:',
    `  host: ${o.host ?? 'callme-service'}`,
    '  subsets:',
    '    - name: v1',
    '      labels:',
    '        version: v1',
    '    - name: v2',
    '      labels:',
    '        version: v2',
    '---',
    manyRoutesVirtualService(o),
  ].join('\n');
}
