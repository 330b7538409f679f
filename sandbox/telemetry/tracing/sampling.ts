/**
 * Sampling: which share of new traces is recorded. Istio's default is 1 %; the sandbox samples
 * 100 % unless `--trace-sampling PERCENT` (or meshbox.yaml `tracing.sampling`) says otherwise, and
 * Istio's `Telemetry` resource (`tracing[].randomSamplingPercentage`) overrides it per mesh,
 * namespace or workload, as in Istio: the most specific resource wins (workload selector, then
 * namespace, then the root namespace `istio-system`).
 *
 * The decision is made once, by the proxy that starts the trace; every later hop keeps the
 * sampled flag it receives (traceparent's flags, x-b3-sampled), as Envoy does.
 */
import type { TracingConfig } from '../../control/snapshot.js';

/** the percentage a proxy samples new traces at; undefined: tracing is off */
export function samplingPercentFor(tracing: TracingConfig | undefined, proxyId: string): number | undefined {
  if (!tracing) return undefined;
  return tracing.byProxy?.[proxyId] ?? tracing.samplingPercent;
}

/** `--trace-sampling` / meshbox.yaml: a number 0..100 (a `%` suffix is accepted) */
export function parseSamplingPercent(text: string): number | string {
  const t = text.trim().replace(/%$/, '');
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || n < 0 || n > 100) return `"${text}" is not a percentage between 0 and 100`;
  return n;
}

export function explainSampling(tracing: TracingConfig | undefined, proxyId: string): string {
  const p = samplingPercentFor(tracing, proxyId);
  if (p === undefined) return 'tracing is off';
  const from = tracing?.byProxy?.[proxyId] !== undefined ? 'a Telemetry resource' : 'the mesh default';
  return `${proxyId} samples ${p}% of new traces (${from}); requests that carry a sampling decision keep it`;
}
