/**
 * callme-service: the callee of meshbox's sample mesh, behaving like the reference
 * callme-service (github.com/piomin/sample-istio-services, CallmeController).
 *
 * Endpoints of the reference:
 *   GET /callme/ping                    200 `I'm callme-service <version>`
 *   GET /callme/ping-with-random-error  r = random 0..99; r even: 504 `Surprise <INSTANCE_ID> <version>`,
 *                                       else 200 `I'm callme-service<INSTANCE_ID> <version>` (no space, as the reference)
 *   GET /callme/ping-with-random-delay  waits a uniform 0..2999 ms, then 200 `I'm callme-service <version>`
 *   GET /actuator/health, /healthz      200 `{"status":"UP"}` (503 `OUT_OF_SERVICE` while shutting down);
 *                                       also /actuator/health/liveness and /actuator/health/readiness
 *
 * Extras for exercising the mesh (not in the reference):
 *   GET      /callme/status/<code>      answers status <code> (200..599), body `I'm callme-service <version>: <code>`
 *   GET      /callme/delay/<ms>         waits <ms> (at most 600000), then 200 `I'm callme-service <version>`
 *   GET|POST /callme/echo               200 JSON {version, instance, method, url, headers, body}: the request
 *                                       as received (headers as Node parsed them, body as text)
 * Unknown paths answer 404 and known paths with another method 405, with Spring-style JSON bodies.
 *
 * Environment:
 *   VERSION (required)   the version it reports (`v1`, `v2`); without it the service exits 1
 *   PORT (8080), HOST (127.0.0.1)   where it listens
 *   SEED                 seeds the random errors and delays (reproducible runs); default:
 *                        MESHBOX_SEED (set by meshbox), else random
 *   SHUTDOWN_GRACE_MS (5000)        how long in-flight requests may finish after SIGTERM/SIGINT
 *   ACCESS_LOG=off       no per-request log line
 *
 * INSTANCE_ID is a random UUID per process. On SIGTERM/SIGINT it stops accepting connections,
 * finishes the requests in flight and exits 0.
 */
import { randomUUID } from 'node:crypto';
import { randomFromEnv } from './random.js';
import { createCallmeHandler } from './routes.js';
import { readServiceEnv, startService } from './service-kit.js';

const env = readServiceEnv('callme-service');
const instanceId = randomUUID();
// SEED wins; under meshbox, MESHBOX_SEED (derived from `meshbox up --seed`) makes a whole run replayable.
const random = randomFromEnv(process.env.SEED ?? process.env.MESHBOX_SEED);

startService(
  env,
  createCallmeHandler({ version: env.version, instanceId, random }),
  `instance ${instanceId}, seed ${random.seed}`,
);
