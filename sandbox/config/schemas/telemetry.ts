/**
 * JSON Schema of Telemetry `spec` (istio/api telemetry/v1 telemetry.proto). meshbox applies its
 * tracing part (sampling, custom tags, disabling spans; sandbox/telemetry/tracing/telemetry-resource.ts);
 * metrics and access logging are recognised, not applied.
 */
import { bool, list, map, notApplied, num, obj, oneOfValues, str } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { workloadSelector } from './common.js';

const providerRef: JsonSchema = obj('ProviderRef', 'A provider by name, as defined in MeshConfig extensionProviders.', {
  name: str('Name of the provider.', { minLength: 1 }),
}, { required: ['name'] });

const customTag: JsonSchema = obj(
  'CustomTag',
  'How a custom tag gets its value: exactly one of literal, environment or header.',
  {
    literal: obj('Literal', 'A fixed value.', { value: str('The value.') }, { required: ['value'] }),
    environment: obj('Environment', 'An environment variable of the proxy (meshbox: of the meshbox process).', {
      name: str('Variable name.', { minLength: 1 }),
      defaultValue: str('Value when the variable is not set.'),
    }, { required: ['name'] }),
    header: obj('RequestHeader', 'A request header.', {
      name: str('Header name.', { minLength: 1 }),
      defaultValue: str('Value when the header is absent.'),
    }, { required: ['name'] }),
  },
  { rules: [{ oneOf: [{ required: ['literal'] }, { required: ['environment'] }, { required: ['header'] }] }] },
);

const tracing: JsonSchema = obj('Tracing', 'Tracing of the selected workloads.', {
  match: notApplied(obj('TracingSelector', 'Which traffic (client, server) the settings apply to.', {
    mode: oneOfValues(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'], 'Traffic direction.'),
  }), 'the settings apply to client and server spans alike'),
  providers: notApplied(list(providerRef, 'Tracing providers.'), 'spans go to the built-in store and the collectors of --otlp-endpoint / --zipkin'),
  randomSamplingPercentage: num('Percentage of new traces sampled, 0.0 to 100.0.', 0, 100),
  disableSpanReporting: bool('No spans from the selected workloads (trace headers still propagate).'),
  customTags: map(customTag, 'Extra tags on every span, by tag name.'),
  useRequestIdForTraceSampling: notApplied(bool('Sample by x-request-id.'), 'sampling is random, from the sandbox seed'),
  enableIstioTags: notApplied(bool('Istio tags on spans.'), 'Istio tags are always added'),
});

export const telemetrySpec: JsonSchema = obj('Telemetry', 'Istio Telemetry: tracing, metrics and access logging of the selected workloads.', {
  selector: workloadSelector,
  targetRef: notApplied({ type: 'object', description: 'Policy attachment to a Gateway API resource.' }, 'use selector'),
  targetRefs: notApplied({ type: 'array', description: 'Policy attachment to Gateway API resources.' }, 'use selector'),
  tracing: list(tracing, 'Tracing settings (meshbox applies sampling, custom tags and disableSpanReporting).'),
  metrics: notApplied({ type: 'array', description: 'Metrics overrides.' }, 'Istio standard metrics are always exported'),
  accessLogging: notApplied({ type: 'array', description: 'Access logging.' }, 'every proxy writes its access log (--access-log / --no-access-log)'),
});
