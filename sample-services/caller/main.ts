/**
 * caller-service: the caller of meshbox's sample mesh, behaving like the reference caller-service
 * (github.com/piomin/sample-istio-services, CallerController), plus header propagation.
 *
 * Endpoints (each calls callme-service and answers `I'm caller-service <version>. Calling... <callme body>`
 * with callme's status, 5xx included; 502 `I'm caller-service <version>. Calling... error: <reason>`
 * when callme cannot be reached: connection refused/reset, no answer within 10 s):
 *   GET /caller/ping                    -> GET /callme/ping
 *   GET /caller/ping-with-random-error  -> GET /callme/ping-with-random-error
 *   GET /caller/ping-with-random-delay  -> GET /callme/ping-with-random-delay
 *   GET /caller/greet?name=<name>       -> gRPC helloworld.Greeter/SayHello on greeter-service (greeter-client.ts):
 *                                       `I'm caller-service <version>. Calling... Hello <name>, I'm greeter-service <v>`;
 *                                       a failed call answers 503 (UNAVAILABLE), 504 (DEADLINE_EXCEEDED) or 502
 *                                       with `error: grpc-status <code>: <message>`
 *   ANY /caller/callme/<rest>           -> the same method, query and body to /callme/<rest> (extra, for tests)
 *   GET /actuator/health, /healthz      200 `{"status":"UP"}` (503 `OUT_OF_SERVICE` while shutting down)
 *
 * Addressing contract (see outbound.ts): callme is addressed by its logical name,
 * `CALLME_URL` (default `http://callme-service:8080`). With `MESHBOX_OUTBOUND`, `http_proxy` or
 * `HTTP_PROXY` set, calls go to that forward proxy in absolute form (`GET http://callme-service:8080/...`,
 * `Host: callme-service:8080`), unless `NO_PROXY`/`no_proxy` excludes the host; otherwise directly.
 *
 * Header propagation: x-request-id, traceparent, tracestate, b3, x-b3-traceid, x-b3-spanid,
 * x-b3-parentspanid, x-b3-sampled, x-b3-flags, x-ot-span-context, end-user and user-agent are copied
 * from the incoming request to the call, so traces join up and header-based routing works through
 * the caller (as Istio's Bookinfo productpage does).
 *
 * Environment: VERSION (required), PORT (8080), HOST (127.0.0.1), CALLME_URL, GREETER_ADDR /
 * GREETER_SERVICE_GRPC_ADDR (greeter-service's gRPC address, see greeter-client.ts), MESHBOX_OUTBOUND /
 * http_proxy / HTTP_PROXY, NO_PROXY / no_proxy, CALLME_TIMEOUT_MS (10000), SHUTDOWN_GRACE_MS (5000),
 * ACCESS_LOG=off. On SIGTERM/SIGINT it finishes the requests in flight and exits 0.
 */
import { createGreeterClient, greeterAddress } from './greeter-client.js';
import { describeTarget, resolveTarget } from './outbound.js';
import { createCallerHandler } from './routes.js';
import { fail, parseIntIn, readServiceEnv, startService } from './service-kit.js';

const NAME = 'caller-service';
const env = readServiceEnv(NAME);
const timeoutMs = parseIntIn(process.env.CALLME_TIMEOUT_MS ?? '10000', 1, 600_000);
if (timeoutMs === undefined) fail(NAME, `CALLME_TIMEOUT_MS must be a number of milliseconds, got "${process.env.CALLME_TIMEOUT_MS}"`);

let callme;
try {
  callme = resolveTarget(process.env.CALLME_URL?.trim() || 'http://callme-service:8080');
} catch (err) {
  fail(NAME, `cannot use the callme-service address: ${(err as Error).message}`);
}

const greeter = createGreeterClient(greeterAddress());
startService(
  env,
  createCallerHandler({ version: env.version, callme, timeoutMs, greeter }),
  `callme-service at ${describeTarget(callme)}, greeter-service at ${greeter.address} (gRPC)`,
);
