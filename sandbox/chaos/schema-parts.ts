/** Schema pieces shared by step and assertion types. */
import { duration, map, obj, str, strings } from '../config/schemas/json-schema.js';
import type { JsonSchema } from '../config/schemas/json-schema.js';

/** a duration with its unit (`2s`, `250ms`), as Istio writes them */
export function durationField(description: string): JsonSchema {
  return duration(description);
}

/** where traffic goes: the ingress gateway (default), a service through a sidecar, or a URL */
export const trafficTargetProperties: Record<string, JsonSchema> = {
  path: str('Request path (with query), e.g. `/caller/ping` (default `/`).', { pattern: '^/' }),
  host: str('Host header through the ingress gateway (default: the mesh\'s gateway host, e.g. `caller.example.com` for the sample).'),
  service: str('Send to this service through a sidecar (as a service in the mesh calls it) instead of the ingress gateway, e.g. `callme-service`.'),
  from: str('With `service`: the workload (`caller-service-v1`) or instance whose sidecar sends (default: the first instance of another service).'),
  url: str('Send to this loopback URL instead (e.g. a sidecar listener); `path` and `service` do not apply.', { pattern: '^http://' }),
  method: str('HTTP method (default GET).', { pattern: '^[A-Za-z]+$' }),
  headers: map(str('Header value.'), 'Request headers, e.g. `end-user: jason`.'),
  body: str('Request body.'),
  bearer: obj(
    'BearerToken',
    'Send `Authorization: Bearer <token>` with a token minted by the local issuer `meshbox.local` (as `meshbox token` does), e.g. `{ sub: alice }`.',
    {
      sub: str('The subject; the request principal is `meshbox.local/<sub>`.', { minLength: 1 }),
      aud: strings('Audiences.'),
      claims: { type: 'object', description: 'Extra claims.' },
      expires: str('Lifetime, e.g. `1h`; `-1h` mints an expired token (default 1h).', { pattern: '^-?[0-9.]+(h|m|s|ms)$' }),
    },
    { required: ['sub'] },
  ),
};
