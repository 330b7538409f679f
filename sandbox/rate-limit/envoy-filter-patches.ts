/**
 * What meshbox applies of an EnvoyFilter: Istio's documented local rate limit ("Enabling Rate
 * Limits using Envoy", local rate limit part), i.e.
 *
 * - `applyTo: HTTP_FILTER` with `INSERT_BEFORE` / `INSERT_AFTER` / `INSERT_FIRST` of
 *   `envoy.filters.http.local_ratelimit` into the HTTP connection manager of the selected
 *   proxies (`match.context` SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY or ANY;
 *   `listener.portNumber`; `filterChain.filter.subFilter.name` for the position);
 * - `applyTo: HTTP_ROUTE` / `VIRTUAL_HOST` with `MERGE` of
 *   `typed_per_filter_config: {envoy.filters.http.local_ratelimit: ...}` into the routes of
 *   `routeConfiguration.vhost.name` (`route.name`, `route.action`, `portNumber`).
 *
 * Every other patch, and every other part of these, is "recognised, not applied" with its path;
 * what Envoy would reject (a zero bucket, a fill interval under 50ms) is a problem, and the patch
 * is not applied. Pure: used by validation (../config/checks/envoy-filter-checks.ts) and by the
 * snapshot compiler (./rate-limit-compile.ts).
 */
import { LOCAL_RATE_LIMIT_FILTER, localRateLimitMessage, parseLocalRateLimit, type Path } from './local-rate-limit-config.js';
import type { FilterChainContext, FilterPosition, LocalRateLimitSettings } from './rate-limit-types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Istio's names for the HTTP connection manager (the network filter the patches match) */
export const HCM_NAMES = ['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager'];

/** legacy filter names Istio still resolves */
const ALIASES: Record<string, string> = {
  'envoy.router': 'envoy.filters.http.router',
  'envoy.cors': 'envoy.filters.http.cors',
  'envoy.fault': 'envoy.filters.http.fault',
  'envoy.rbac': 'envoy.filters.http.rbac',
  'envoy.filters.http.jwt_authn': 'envoy.filters.http.jwt_authn',
};
export const canonicalFilterName = (name: string): string => ALIASES[name] ?? name;

export interface FilterPatch {
  index: number;
  contexts: FilterChainContext[];
  position: FilterPosition;
  settings: LocalRateLimitSettings;
  portNumber?: number;
}

export interface RoutePatch {
  index: number;
  level: 'route' | 'vhost';
  contexts: FilterChainContext[];
  vhostName?: string;
  routeName?: string;
  action?: 'ANY' | 'ROUTE' | 'REDIRECT' | 'DIRECT_RESPONSE';
  portNumber?: number;
  settings: LocalRateLimitSettings;
}

export interface Issue {
  path: Path;
  message: string;
  /** for not-applied issues: shown after the path, e.g. "`CLUSTER`" */
  what?: string;
}

export interface InterpretedEnvoyFilter {
  filterPatches: FilterPatch[];
  routePatches: RoutePatch[];
  notApplied: Issue[];
  problems: Issue[];
}

const ALL_CONTEXTS: FilterChainContext[] = ['inbound', 'outbound', 'gateway'];

function contextsOf(match: Obj | undefined): FilterChainContext[] | undefined {
  const c = match?.['context'];
  if (c === undefined || c === 'ANY') return ALL_CONTEXTS;
  if (c === 'SIDECAR_INBOUND') return ['inbound'];
  if (c === 'SIDECAR_OUTBOUND') return ['outbound'];
  if (c === 'GATEWAY') return ['gateway'];
  return undefined;
}

/**
 * `source(path)`: the patch's description for explanations, e.g.
 * `EnvoyFilter istio-system/filter-local-ratelimit-svc spec.configPatches[0] (rules/rl.yaml:9:7)`.
 */
export function interpretEnvoyFilter(spec: unknown, source: (path: Path) => string): InterpretedEnvoyFilter {
  const out: InterpretedEnvoyFilter = { filterPatches: [], routePatches: [], notApplied: [], problems: [] };
  if (!isObj(spec)) return out;
  for (const key of ['targetRefs', 'targetRef']) {
    if (spec[key] !== undefined) out.notApplied.push({ path: ['spec', key], message: 'EnvoyFilters select proxies by `workloadSelector` only in meshbox' });
  }
  const patches = Array.isArray(spec['configPatches']) ? spec['configPatches'] : [];
  patches.forEach((raw, index) => {
    const base: Path = ['spec', 'configPatches', index];
    if (!isObj(raw)) return;
    const applyTo = raw['applyTo'];
    const match = isObj(raw['match']) ? raw['match'] : undefined;
    const patch = isObj(raw['patch']) ? raw['patch'] : {};
    const operation = patch['operation'];
    const value = isObj(patch['value']) ? patch['value'] : undefined;
    const contexts = contextsOf(match);
    const notApplied = (why: string, what = `\`${String(applyTo)}\``): void => {
      out.notApplied.push({ path: base, message: why, what });
    };
    if (!contexts) return notApplied(`match.context ${JSON.stringify(match?.['context'])} is not one meshbox has (SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY, ANY)`);
    if (match?.['proxy'] !== undefined) out.notApplied.push({ path: [...base, 'match', 'proxy'], message: 'the patch applies whatever the proxy version and metadata' });
    if (patch['filterClass'] !== undefined) out.notApplied.push({ path: [...base, 'patch', 'filterClass'], message: 'the filter goes where `operation` puts it' });

    if (applyTo === 'HTTP_FILTER') {
      if (value?.['name'] !== LOCAL_RATE_LIMIT_FILTER) {
        return notApplied(`meshbox applies the local rate limit filter (${LOCAL_RATE_LIMIT_FILTER}) only; this patch adds ${JSON.stringify(value?.['name'] ?? operation)}`, `\`HTTP_FILTER\` ${value?.['name'] ? `\`${String(value['name'])}\`` : ''}`.trim());
      }
      const listener = isObj(match?.['listener']) ? match!['listener'] : undefined;
      const chain = isObj(listener?.['filterChain']) ? (listener!['filterChain'] as Obj) : undefined;
      const filter = isObj(chain?.['filter']) ? (chain!['filter'] as Obj) : undefined;
      const filterName = filter?.['name'];
      if (filterName !== undefined && !HCM_NAMES.includes(String(filterName))) {
        return notApplied(`listener.filterChain.filter.name ${JSON.stringify(filterName)} is not the HTTP connection manager: the patch matches no HTTP filter chain`);
      }
      for (const k of Object.keys(listener ?? {})) {
        if (k !== 'portNumber' && k !== 'filterChain') out.notApplied.push({ path: [...base, 'match', 'listener', k], message: 'the patch applies to every listener of the context' });
      }
      for (const k of Object.keys(chain ?? {})) {
        if (k !== 'filter') out.notApplied.push({ path: [...base, 'match', 'listener', 'filterChain', k], message: 'the patch applies to every filter chain of the listener' });
      }
      const subFilter = isObj(filter?.['subFilter']) ? String((filter!['subFilter'] as Obj)['name'] ?? '') : undefined;
      let position: FilterPosition;
      if (operation === 'INSERT_FIRST') position = { op: 'first' };
      else if (operation === 'INSERT_BEFORE') position = subFilter ? { op: 'before', filter: canonicalFilterName(subFilter) } : { op: 'first' };
      else if (operation === 'INSERT_AFTER' && subFilter) position = { op: 'after', filter: canonicalFilterName(subFilter) };
      else {
        return notApplied(
          operation === 'INSERT_AFTER' || operation === 'ADD'
            ? `${String(operation)} without a subFilter puts the filter after the router, where Envoy rejects it`
            : `operation ${JSON.stringify(operation)} on an HTTP filter is not applied (meshbox inserts filters: INSERT_BEFORE, INSERT_AFTER, INSERT_FIRST)`,
        );
      }
      if (position.op !== 'first' && position.filter === 'envoy.filters.http.router' && position.op === 'after') {
        return notApplied('INSERT_AFTER the router puts the filter after the router, where Envoy rejects it');
      }
      const typed = localRateLimitMessage(value['typed_config']);
      const typedPath: Path = [...base, 'patch', 'value', 'typed_config', ...typed.path];
      if (!typed.message) {
        out.problems.push({ path: typedPath, message: typed.problem ?? 'typed_config is missing' });
        return;
      }
      const parsed = parseLocalRateLimit(typed.message, source(base), false);
      out.notApplied.push(...parsed.notApplied.map((n) => ({ path: [...typedPath, ...n.path], message: n.message })));
      out.problems.push(...parsed.problems.map((p) => ({ path: [...typedPath, ...p.path], message: p.message })));
      if (!parsed.settings) return;
      const port = listener?.['portNumber'];
      out.filterPatches.push({ index, contexts, position, settings: parsed.settings, ...(typeof port === 'number' && port > 0 ? { portNumber: port } : {}) });
      return;
    }

    if (applyTo === 'HTTP_ROUTE' || applyTo === 'VIRTUAL_HOST') {
      if (operation !== 'MERGE') return notApplied(`operation ${JSON.stringify(operation)} on ${String(applyTo)} is not applied (meshbox merges typed_per_filter_config for the local rate limit only)`);
      const perFilter = value ? (value['typed_per_filter_config'] ?? value['typedPerFilterConfig']) : undefined;
      const rl = isObj(perFilter) ? perFilter[LOCAL_RATE_LIMIT_FILTER] : undefined;
      if (!isObj(rl)) return notApplied(`meshbox merges only \`typed_per_filter_config: {${LOCAL_RATE_LIMIT_FILTER}: ...}\` into routes`);
      const perFilterKey = value!['typed_per_filter_config'] !== undefined ? 'typed_per_filter_config' : 'typedPerFilterConfig';
      for (const k of Object.keys(value!)) {
        if (k !== perFilterKey) out.notApplied.push({ path: [...base, 'patch', 'value', k], message: `only the local rate limit's typed_per_filter_config is merged into the ${applyTo === 'HTTP_ROUTE' ? 'route' : 'virtual host'}` });
      }
      for (const k of Object.keys(perFilter as Obj)) {
        if (k !== LOCAL_RATE_LIMIT_FILTER) out.notApplied.push({ path: [...base, 'patch', 'value', perFilterKey, k], message: 'only the local rate limit filter runs in meshbox' });
      }
      const rc = isObj(match?.['routeConfiguration']) ? (match!['routeConfiguration'] as Obj) : undefined;
      const vhost = isObj(rc?.['vhost']) ? (rc!['vhost'] as Obj) : undefined;
      const route = isObj(vhost?.['route']) ? (vhost!['route'] as Obj) : undefined;
      for (const k of Object.keys(rc ?? {})) {
        if (k !== 'vhost' && k !== 'portNumber') out.notApplied.push({ path: [...base, 'match', 'routeConfiguration', k], message: 'routes are matched by vhost name, route name and action, and portNumber' });
      }
      for (const k of Object.keys(vhost ?? {})) {
        if (k !== 'name' && k !== 'route') out.notApplied.push({ path: [...base, 'match', 'routeConfiguration', 'vhost', k], message: 'virtual hosts are matched by name' });
      }
      const typed = localRateLimitMessage(rl);
      const typedPath: Path = [...base, 'patch', 'value', perFilterKey, LOCAL_RATE_LIMIT_FILTER, ...typed.path];
      if (!typed.message) {
        out.problems.push({ path: typedPath, message: typed.problem ?? 'the per-filter config is missing' });
        return;
      }
      const parsed = parseLocalRateLimit(typed.message, source(base), true);
      out.notApplied.push(...parsed.notApplied.map((n) => ({ path: [...typedPath, ...n.path], message: n.message })));
      out.problems.push(...parsed.problems.map((p) => ({ path: [...typedPath, ...p.path], message: p.message })));
      if (!parsed.settings) return;
      const action = route?.['action'];
      const port = rc?.['portNumber'];
      out.routePatches.push({
        index,
        level: applyTo === 'HTTP_ROUTE' ? 'route' : 'vhost',
        contexts,
        settings: parsed.settings,
        ...(typeof vhost?.['name'] === 'string' ? { vhostName: vhost['name'] } : {}),
        ...(applyTo === 'HTTP_ROUTE' && typeof route?.['name'] === 'string' ? { routeName: route['name'] } : {}),
        ...(applyTo === 'HTTP_ROUTE' && typeof action === 'string' ? { action: action as RoutePatch['action'] } : {}),
        ...(typeof port === 'number' && port > 0 ? { portNumber: port } : {}),
      });
      return;
    }
    notApplied(`meshbox applies EnvoyFilter patches for the local rate limit only (HTTP_FILTER ${LOCAL_RATE_LIMIT_FILTER}, and HTTP_ROUTE / VIRTUAL_HOST typed_per_filter_config)`);
  });
  return out;
}
