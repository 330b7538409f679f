/**
 * A gRPC workload for proxy tests: a @grpc/grpc-js server (h2c) with a small Greeter service,
 * defined without .proto files (grpc-js's generic service definition, JSON messages).
 *
 *   /meshbox.test.Greeter/SayHello   unary: {name, sleepMs?} -> {message, instance, metadata}
 *                                     with trailing metadata `x-instance: <instance>`
 *   /meshbox.test.Greeter/Count      server streaming: {n} -> n messages {i}
 *
 * `fail` (set from the test) answers every call with that gRPC status code; `fail` with
 * `trailersOnly: false` sends the status after the response headers (a status in trailers).
 * Every call is recorded (its path and metadata) so a test can count what reached the app.
 */
import * as grpc from '@grpc/grpc-js';
import type http from 'node:http';
import type { FakeApp, ReceivedRequest } from './fake-app.js';

export interface HelloRequest {
  name: string;
  sleepMs?: number;
}
export interface HelloReply {
  message: string;
  instance: string;
  metadata: Record<string, string>;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const parse = (b: Buffer): never => JSON.parse(b.toString('utf8')) as never;

export const GREETER_SAY_HELLO = '/meshbox.test.Greeter/SayHello';
export const GREETER_COUNT = '/meshbox.test.Greeter/Count';

export const greeterService: grpc.ServiceDefinition = {
  SayHello: { path: GREETER_SAY_HELLO, requestStream: false, responseStream: false, requestSerialize: json, requestDeserialize: parse, responseSerialize: json, responseDeserialize: parse },
  Count: { path: GREETER_COUNT, requestStream: false, responseStream: true, requestSerialize: json, requestDeserialize: parse, responseSerialize: json, responseDeserialize: parse },
};

export interface GrpcApp extends FakeApp {
  /** answer every call with this gRPC status (trailers-only) */
  failCode?: number;
  grpcServer: grpc.Server;
  /** calls in progress now, and the most seen at once */
  active: number;
  maxActive: number;
}

function metadataOf(m: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.getMap())) out[k] = Buffer.isBuffer(v) ? v.toString('base64') : String(v);
  return out;
}

export async function startGrpcApp(instance: string): Promise<GrpcApp> {
  const server = new grpc.Server();
  const app: GrpcApp = {
    instance,
    port: 0,
    requests: [],
    requestsWithId: (id) => app.requests.filter((r) => r.headers['x-request-id'] === id),
    server: undefined as unknown as http.Server,
    grpcServer: server,
    active: 0,
    maxActive: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
  const record = (path: string, md: grpc.Metadata): Record<string, string> => {
    const headers = metadataOf(md);
    const r: ReceivedRequest = { method: 'POST', url: path, headers, body: Buffer.alloc(0), complete: true };
    app.requests.push(r);
    return headers;
  };
  server.addService(greeterService, {
    SayHello: (call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) => {
      const metadata = record(GREETER_SAY_HELLO, call.metadata);
      // grpc-js takes grpc-timeout out of the metadata as the call's deadline: record what is left of it
      const deadline = call.getDeadline();
      if (deadline instanceof Date || typeof deadline === 'number') {
        const left = Math.round(Number(deadline) - Date.now());
        if (Number.isFinite(left)) app.requests.at(-1)!.headers['x-deadline-ms'] = String(left);
      }
      if (app.failCode !== undefined) {
        callback({ code: app.failCode, details: `${instance} fails on purpose` });
        return;
      }
      app.active++;
      app.maxActive = Math.max(app.maxActive, app.active);
      const answer = (): void => {
        app.active--;
        const trailer = new grpc.Metadata();
        trailer.set('x-instance', instance);
        callback(null, { message: `hello ${call.request.name} from ${instance}`, instance, metadata }, trailer);
      };
      if (call.request.sleepMs) setTimeout(answer, call.request.sleepMs);
      else answer();
    },
    Count: (call: grpc.ServerWritableStream<{ n: number }, { i: number }>) => {
      record(GREETER_COUNT, call.metadata);
      for (let i = 0; i < call.request.n; i++) call.write({ i });
      call.end();
    },
  });
  app.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  return app;
}

export interface CallResult {
  error?: grpc.ServiceError;
  response?: HelloReply;
  /** the status as the client saw it (code, details, trailing metadata) */
  status?: grpc.StatusObject;
  headers?: Record<string, string>;
}

/** a generic client on `target` (`127.0.0.1:<port>`), with `:authority` set to `authority` */
export function greeterClient(target: string, authority?: string, options: grpc.ClientOptions = {}): grpc.Client {
  return new grpc.Client(target, grpc.credentials.createInsecure(), { ...(authority ? { 'grpc.default_authority': authority } : {}), ...options });
}

/** one SayHello call; never rejects (the error is in the result) */
export function sayHello(client: grpc.Client, request: HelloRequest, opts: { metadata?: Record<string, string>; deadlineMs?: number } = {}): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  const callOptions: grpc.CallOptions = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
  return new Promise((resolve) => {
    const result: CallResult = {};
    const call = client.makeUnaryRequest<HelloRequest, HelloReply>(GREETER_SAY_HELLO, json, parse, request, md, callOptions, (err, response) => {
      if (err) result.error = err;
      if (response) result.response = response;
      // the status event comes after the callback
      setImmediate(() => resolve(result));
    });
    call.on('metadata', (m: grpc.Metadata) => (result.headers = metadataOf(m)));
    call.on('status', (s: grpc.StatusObject) => (result.status = s));
  });
}

/** one Count call: the messages received, and the final status */
export function count(client: grpc.Client, n: number): Promise<{ messages: number; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    let messages = 0;
    const call = client.makeServerStreamRequest<{ n: number }, { i: number }>(GREETER_COUNT, json, parse, { n }, new grpc.Metadata(), {});
    call.on('data', () => messages++);
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
  });
}
