/**
 * JSON Schema of meshbox's own `Fault` kind (apiVersion meshbox.dev/v1alpha1): HTTP faults Istio
 * lacks and Toxiproxy's network toxics. The shape is sandbox/faults/fault-spec.ts; the admin API,
 * `meshbox fault add`, the terminal UI and scenarios validate with this same schema.
 */
import { atLeastOneOf, bool, fmt, int, list, map, num, obj, oneOfValues, str } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';

const percent = num('Share of matching requests affected, 0-100 (default 100).', 0, 100);

export const TOXIC_ATTRIBUTES: Record<string, Record<string, string>> = {
  latency: { latency: 'delay added to every chunk, ms', jitter: 'random variation, ms (uniform in latency ± jitter)' },
  bandwidth: { rate: 'maximum rate, KB/s (1 KB = 1000 bytes)' },
  slow_close: { delay: 'delay before the connection is closed, ms' },
  timeout: { timeout: 'stop all data and close the connection after this many ms (0: never close)' },
  reset_peer: { timeout: 'reset the connection (TCP RST) after this many ms' },
  slicer: { average_size: 'average slice size, bytes', size_variation: 'slice size variation, bytes', delay: 'delay between slices, µs' },
  limit_data: { bytes: 'close the connection after this many bytes' },
};

const toxic = obj(
  'Toxic',
  "A network fault with Toxiproxy's name and semantics, applied to the connections callers open to the target's endpoints.",
  {
    type: oneOfValues(Object.keys(TOXIC_ATTRIBUTES), 'Toxic type: latency, bandwidth, slow_close, timeout, reset_peer, slicer or limit_data.'),
    name: str('Name of the toxic (default `<type>_<stream>`).'),
    stream: oneOfValues(['upstream', 'downstream'], '`upstream` = bytes from the caller to the service, `downstream` = the answers (default, as in Toxiproxy).'),
    toxicity: num('Probability (0-1) that a connection gets the toxic, rolled once per connection (default 1).', 0, 1),
    attributes: map({ type: 'number', minimum: 0, description: 'Attribute value.' }, 'Attributes of the toxic type (latency: latency, jitter; bandwidth: rate; slow_close: delay; timeout: timeout; reset_peer: timeout; slicer: average_size, size_variation, delay; limit_data: bytes).'),
  },
  { required: ['type'] },
);

export const faultSpecSchema: JsonSchema = obj(
  'FaultSpec',
  "A meshbox fault: HTTP misbehaviour at the target's inbound sidecar (seen by callers as the service misbehaving, so their retries react) and/or network toxics on the connections to it.",
  {
    name: str('Unique name (runtime faults; generated when absent).'),
    target: obj(
      'FaultTarget',
      'Which service (and subset, and caller) the fault applies to.',
      {
        service: fmt('dns1123-label', 'Destination service, e.g. `callme-service`.'),
        subset: fmt('dns1123-label', 'Only the endpoints of this subset (DestinationRule subset, or version label).'),
        source: str('Only requests from this source workload (e.g. `caller-service-v1`); HTTP faults only.'),
      },
      { required: ['service'] },
    ),
    match: obj('FaultMatch', 'Only requests matching all of these.', {
      method: str('HTTP method, e.g. `GET`.'),
      pathPrefix: str('Path prefix, e.g. `/callme/ping`.'),
      headers: map(str('Exact value.'), 'Exact header values (lower-case names).'),
    }),
    http: obj(
      'HttpFault',
      'HTTP faults, sampled per request and independently.',
      {
        delay: obj('FaultDelay', 'Wait before passing the request on.', { fixedDelayMs: int('Delay in ms.', 0, 3_600_000), percent }, { required: ['fixedDelayMs'] }),
        abort: obj(
          'FaultAbort',
          'Answer locally instead of the app.',
          {
            httpStatus: int('Status to answer.', 200, 599),
            percent,
            body: str('Body to answer (default `fault filter abort`).'),
            headers: map(str('Header value.'), 'Headers to add to the answer.'),
          },
          { required: ['httpStatus'] },
        ),
        reset: obj('FaultReset', 'Reset the connection.', { phase: oneOfValues(['request', 'response'], '`request`: before any response; `response`: after the headers and part of the body.'), percent }, { required: ['phase'] }),
        slowBody: obj('FaultSlowBody', 'Trickle the response body.', { bytesPerSecond: int('Rate of the body, bytes per second.', 1), percent }, { required: ['bytesPerSecond'] }),
      },
      { rules: [atLeastOneOf('delay', 'abort', 'reset', 'slowBody')] },
    ),
    toxics: list(toxic, 'Network toxics (Toxiproxy vocabulary).', { minItems: 1 }),
    ttlMs: int('Remove the fault after this many ms (runtime faults).', 1),
    disabled: bool('Keep the fault defined but inactive.'),
  },
  { required: ['target'], rules: [atLeastOneOf('http', 'toxics')] },
);
