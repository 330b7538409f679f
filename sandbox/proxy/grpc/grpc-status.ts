/**
 * gRPC over HTTP/2 as Envoy sees it (Envoy's Grpc::Common and Grpc::Utility): which requests are
 * gRPC, status names and codes, and the two mappings between HTTP and gRPC statuses.
 *
 * - a request is gRPC when its content-type is `application/grpc`, or `application/grpc+<codec>`
 *   / `application/grpc;<params>` (grpc-web's `application/grpc-web` is not);
 * - a local reply to a gRPC request is a trailers-only response: `:status 200`,
 *   `content-type: application/grpc`, `grpc-status` (given, else mapped from the HTTP status:
 *   `httpToGrpcStatus`), `grpc-message` the local reply's body, percent-encoded;
 * - a gRPC status in a response is judged as the HTTP status it maps to (`grpcToHttpStatus`),
 *   by outlier detection for instance.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** gRPC status names to their numeric codes (the `grpc-status` header carries the number) */
export const GRPC_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** Envoy's Grpc::Utility::grpcToHttpStatus, by name */
export const GRPC_TO_HTTP: Record<string, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

const NAME_OF = new Map(Object.entries(GRPC_CODES).map(([name, code]) => [code, name]));

export function grpcStatusName(code: number): string {
  return NAME_OF.get(code) ?? String(code);
}

/** Envoy's grpcToHttpStatus: the HTTP status a gRPC status stands for (an unknown code: 500) */
export function grpcToHttpStatus(code: number): number {
  const name = NAME_OF.get(code);
  return name ? GRPC_TO_HTTP[name]! : 500;
}

/**
 * Envoy's httpToGrpcStatus (gRPC's http-grpc-status-mapping.md): 400 INTERNAL, 401
 * UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, any
 * other UNKNOWN.
 */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return GRPC_CODES['INTERNAL']!;
    case 401:
      return GRPC_CODES['UNAUTHENTICATED']!;
    case 403:
      return GRPC_CODES['PERMISSION_DENIED']!;
    case 404:
      return GRPC_CODES['UNIMPLEMENTED']!;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_CODES['UNAVAILABLE']!;
    default:
      return GRPC_CODES['UNKNOWN']!;
  }
}

/** Envoy's Grpc::Common::hasGrpcContentType */
export function isGrpcContentType(contentType: string | string[] | undefined): boolean {
  const ct = Array.isArray(contentType) ? contentType[0] : contentType;
  if (!ct || !ct.startsWith('application/grpc')) return false;
  if (ct.length === 16) return true;
  const next = ct[16];
  return next === '+' || next === ';';
}

export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  return isGrpcContentType(headers['content-type']);
}

/** the `grpc-status` of a header map (headers of a trailers-only response, or trailers), when well-formed */
export function grpcStatusOf(headers: IncomingHttpHeaders | OutgoingHttpHeaders | NodeJS.Dict<string | string[]> | undefined): number | undefined {
  const v = headers?.['grpc-status'];
  const text = Array.isArray(v) ? v[0] : v;
  if (text === undefined || text === null) return undefined;
  const s = String(text);
  if (!/^\d{1,10}$/.test(s)) return undefined;
  return Number(s);
}

/** the `grpc-message` of a header map, percent-decoded (gRPC's PROTOCOL-HTTP2.md) */
export function grpcMessageOf(headers: IncomingHttpHeaders | NodeJS.Dict<string | string[]> | undefined): string | undefined {
  const v = headers?.['grpc-message'];
  const text = Array.isArray(v) ? v[0] : v;
  if (text === undefined) return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Envoy's PercentEncoding::encode for `grpc-message`: `%`, controls and non-ASCII as %XX of their UTF-8 bytes */
export function percentEncodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte < 0x20 || byte > 0x7e || byte === 0x25) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}
