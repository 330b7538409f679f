/**
 * greeter-service: the gRPC service of meshbox's sample mesh (caller-service calls it over gRPC,
 * beside its HTTP/1.1 calls to callme-service), built with @grpc/grpc-js.
 *
 * Service (helloworld.proto, gRPC's canonical example):
 *   helloworld.Greeter/SayHello {name}  ->  {message: "Hello <name>, I'm greeter-service <version>"}
 * Extras for exercising the mesh (the `name` decides):
 *   `status:<code>`   answers gRPC status <code> (1..16) with message "greeter-service <version>: status <code>"
 *   `delay:<ms>`      waits <ms> (at most 600000), then answers as usual
 *
 * Environment:
 *   VERSION (required)   the version it reports (`v1`, `v2`); without it the service exits 1
 *   PORT (9090), HOST (127.0.0.1)   where it listens (h2c, plaintext: its sidecar adds mTLS)
 *   SHUTDOWN_GRACE_MS (5000)        how long calls in flight may finish after SIGTERM/SIGINT
 *   ACCESS_LOG=off       no per-call log line
 */
import * as grpc from '@grpc/grpc-js';
import { greeterService, type HelloReply, type HelloRequest } from './helloworld.js';

const NAME = 'greeter-service';

function fail(message: string): never {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(1);
}

function intIn(text: string, min: number, max: number): number | undefined {
  if (!/^\s*\d+\s*$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

const version = process.env.VERSION?.trim();
if (!version) fail('environment variable VERSION is required (for example VERSION=v1); the service does not start without it');
const host = process.env.HOST?.trim() || '127.0.0.1';
const port = intIn(process.env.PORT ?? '9090', 0, 65535);
if (port === undefined) fail(`PORT must be an integer between 0 and 65535, got "${process.env.PORT}"`);
const graceMs = intIn(process.env.SHUTDOWN_GRACE_MS ?? '5000', 0, 600_000);
if (graceMs === undefined) fail(`SHUTDOWN_GRACE_MS must be a number of milliseconds, got "${process.env.SHUTDOWN_GRACE_MS}"`);
const accessLog = !['off', '0', 'false', 'no'].includes((process.env.ACCESS_LOG ?? '').trim().toLowerCase());

function sayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>): void {
  const started = process.hrtime.bigint();
  const name = call.request.name;
  const done = (err: grpc.ServiceError | null, reply?: HelloReply): void => {
    if (accessLog) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      process.stdout.write(`SayHello ${JSON.stringify(name)} ${err ? `grpc-status ${err.code}` : 'OK'} ${Math.round(ms)}ms\n`);
    }
    callback(err, reply);
  };
  const status = /^status:(\d+)$/.exec(name);
  if (status) {
    const code = intIn(status[1]!, 1, 16);
    if (code === undefined) return done(Object.assign(new Error('status must be 1..16'), { code: grpc.status.INVALID_ARGUMENT, details: 'status must be 1..16', metadata: new grpc.Metadata() }));
    const details = `${NAME} ${version}: status ${code}`;
    return done(Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }));
  }
  const delay = /^delay:(\d+)$/.exec(name);
  const reply = { message: `Hello ${name}, I'm ${NAME} ${version}` };
  if (delay) {
    const ms = Math.min(Number(delay[1]), 600_000);
    const timer = setTimeout(() => done(null, reply), ms);
    call.on('cancelled', () => clearTimeout(timer));
    return;
  }
  done(null, reply);
}

const server = new grpc.Server();
server.addService(greeterService, { sayHello });
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) fail(`cannot listen on ${host}:${port}: ${/EADDRINUSE|address already in use/i.test(err.message) ? 'the port is already in use' : err.message}`);
  process.stdout.write(`${NAME} ${version} listening on grpc://${host}:${bound} (pid ${process.pid})\n`);
});

let shuttingDown = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (shuttingDown) {
    server.forceShutdown();
    process.exit(0);
  }
  shuttingDown = true;
  process.stdout.write(`${NAME}: ${signal} received, finishing calls in flight (up to ${graceMs}ms)\n`);
  server.tryShutdown(() => {
    process.stdout.write(`${NAME}: stopped\n`);
    process.exit(0);
  });
  setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, graceMs).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
