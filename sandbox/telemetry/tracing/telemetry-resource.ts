/**
 * Istio's `Telemetry` resource (telemetry.istio.io/v1), its tracing part, turned into the
 * snapshot's TracingConfig:
 *
 *   spec.selector.matchLabels          the workloads it applies to (none: the whole namespace;
 *                                      in the root namespace `istio-system`: the whole mesh)
 *   spec.tracing[].randomSamplingPercentage   0..100
 *   spec.tracing[].customTags.<name>   { literal: {value} } | { header: {name, defaultValue} }
 *                                      | { environment: {name, defaultValue} }
 *   spec.tracing[].disableSpanReporting  true: no spans from those workloads (sampling 0 here)
 *
 * Precedence, as Istio: a workload-selecting resource over the namespace's over the root
 * namespace's; the defaults (`--trace-sampling`, meshbox.yaml) come last.
 */
import type { LoadedResource } from '../../config/resource.js';
import type { CustomTagConfig, ProxyConfig, TracingConfig } from '../../control/snapshot.js';

export const ROOT_NAMESPACE = 'istio-system';

export interface TelemetryTracing {
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, { literal?: { value: string }; header?: { name: string; defaultValue?: string }; environment?: { name: string; defaultValue?: string } }>;
  providers?: Array<{ name: string }>;
}

export interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  tracing?: TelemetryTracing[];
}

export interface TracingDefaults {
  /** `--trace-sampling` / meshbox.yaml; 100 in the sandbox */
  samplingPercent: number;
}

/** 0 for each scope that is more specific */
function scopeOf(r: LoadedResource, proxy: ProxyConfig): number | undefined {
  const spec = (r.spec ?? {}) as TelemetrySpec;
  const labels = spec.selector?.matchLabels;
  const ns = r.metadata.namespace;
  if (labels && Object.keys(labels).length > 0) {
    if (ns !== proxy.meta.namespace && ns !== ROOT_NAMESPACE) return undefined;
    return Object.entries(labels).every(([k, v]) => proxy.meta.labels[k] === v) ? 3 : undefined;
  }
  if (ns === proxy.meta.namespace && ns !== ROOT_NAMESPACE) return 2;
  if (ns === ROOT_NAMESPACE) return 1;
  return undefined;
}

function customTagsOf(t: TelemetryTracing): Record<string, CustomTagConfig> {
  const out: Record<string, CustomTagConfig> = {};
  for (const [name, tag] of Object.entries(t.customTags ?? {})) {
    if (tag.literal) out[name] = { literal: String(tag.literal.value ?? '') };
    else if (tag.header) out[name] = { header: tag.header.name.toLowerCase(), ...(tag.header.defaultValue !== undefined ? { defaultValue: tag.header.defaultValue } : {}) };
    else if (tag.environment) out[name] = { environment: tag.environment.name, ...(tag.environment.defaultValue !== undefined ? { defaultValue: tag.environment.defaultValue } : {}) };
  }
  return out;
}

/** The tracing configuration of every proxy: `undefined` defaults means tracing off. */
export function compileTracing(defaults: TracingDefaults | undefined, resources: readonly LoadedResource[], proxies: readonly ProxyConfig[]): TracingConfig | undefined {
  if (!defaults) return undefined;
  const telemetry = resources.filter((r) => r.kind === 'Telemetry');
  const config: TracingConfig = { samplingPercent: defaults.samplingPercent };
  if (telemetry.length === 0) return config;
  const byProxy: Record<string, number> = {};
  const customTags: Record<string, Record<string, CustomTagConfig>> = {};
  for (const proxy of proxies) {
    const ranked = telemetry
      .map((r) => ({ r, scope: scopeOf(r, proxy) }))
      .filter((x): x is { r: LoadedResource; scope: number } => x.scope !== undefined)
      .sort((a, b) => a.scope - b.scope || `${a.r.metadata.namespace}/${a.r.metadata.name}`.localeCompare(`${b.r.metadata.namespace}/${b.r.metadata.name}`));
    let percent: number | undefined;
    let tags: Record<string, CustomTagConfig> | undefined;
    // least specific first: each more specific resource overrides what it sets
    for (const { r } of ranked) {
      for (const t of ((r.spec ?? {}) as TelemetrySpec).tracing ?? []) {
        if (t.disableSpanReporting === true) percent = 0;
        else if (typeof t.randomSamplingPercentage === 'number') percent = t.randomSamplingPercentage;
        if (t.customTags) tags = { ...(tags ?? {}), ...customTagsOf(t) };
      }
    }
    if (percent !== undefined) byProxy[proxy.id] = percent;
    if (tags) customTags[proxy.id] = tags;
  }
  if (Object.keys(byProxy).length > 0) config.byProxy = byProxy;
  if (Object.keys(customTags).length > 0) config.customTags = customTags;
  return config;
}
