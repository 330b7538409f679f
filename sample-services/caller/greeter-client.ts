/**
 * How caller-service reaches greeter-service over gRPC (@grpc/grpc-js), by meshbox's addressing
 * contract: the client connects to `GREETER_ADDR`, else the sidecar listener meshbox binds to the
 * service's `grpc` port (`GREETER_SERVICE_GRPC_ADDR`), else `greeter-service:9090` (the name, as
 * in a cluster). The authority is always the logical `greeter-service:9090`, and grpc-js's own
 * HTTP CONNECT proxying is off: the sidecar is not a CONNECT proxy (Istio's are not either).
 */
import * as grpc from '@grpc/grpc-js';
import { greeterService, type HelloReply, type HelloRequest } from './helloworld.js';
import { PROPAGATED_HEADERS } from './outbound.js';
import type http from 'node:http';

export const GREETER_AUTHORITY = 'greeter-service:9090';

export interface GreeterClient {
  address: string;
  sayHello(name: string, incoming: http.IncomingHttpHeaders, timeoutMs: number): Promise<HelloReply>;
  close(): void;
}

export function greeterAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.GREETER_ADDR?.trim() || env.GREETER_SERVICE_GRPC_ADDR?.trim() || GREETER_AUTHORITY;
}

export function createGreeterClient(address: string): GreeterClient {
  const Client = grpc.makeGenericClientConstructor(greeterService, 'Greeter');
  const client = new Client(address, grpc.credentials.createInsecure(), {
    'grpc.default_authority': GREETER_AUTHORITY,
    'grpc.enable_http_proxy': 0,
    // grpc-js retries on its own unless told not to: the mesh's retry policy is what is shown
    'grpc.enable_retries': 0,
  }) as unknown as grpc.Client & {
    sayHello(r: HelloRequest, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: HelloReply) => void): grpc.ClientUnaryCall;
  };
  return {
    address,
    sayHello(name, incoming, timeoutMs) {
      const metadata = new grpc.Metadata();
      for (const h of PROPAGATED_HEADERS) {
        if (h === 'user-agent') continue; // grpc-js sends its own
        const v = incoming[h];
        if (v !== undefined) metadata.set(h, Array.isArray(v) ? v.join(', ') : v);
      }
      return new Promise((resolve, reject) => {
        client.sayHello({ name }, metadata, { deadline: Date.now() + timeoutMs }, (err, reply) => (err ? reject(err) : resolve(reply!)));
      });
    },
    close: () => client.close(),
  };
}

/** the HTTP status caller answers for a failed gRPC call */
export function httpStatusOfGrpc(code: number): number {
  if (code === grpc.status.UNAVAILABLE) return 503;
  if (code === grpc.status.DEADLINE_EXCEEDED) return 504;
  if (code === grpc.status.NOT_FOUND || code === grpc.status.UNIMPLEMENTED) return 404;
  if (code === grpc.status.PERMISSION_DENIED) return 403;
  if (code === grpc.status.UNAUTHENTICATED) return 401;
  return 502;
}
