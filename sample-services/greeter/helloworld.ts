/**
 * helloworld.proto's two messages in protobuf's wire format, and the Greeter service definition
 * for @grpc/grpc-js. Each holds one string, field 1: the bytes are `0x0a <varint length> <utf-8>`,
 * exactly what protoc's generated code sends, so any gRPC client with helloworld.proto (grpcurl,
 * a generated stub) talks to greeter-service. Unknown fields are skipped, as protobuf requires.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

export interface HelloRequest {
  name: string;
}
export interface HelloReply {
  message: string;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** encodes `{ string field1 }` (an empty string is left out, as proto3 does for defaults) */
export function encodeString1(value: string): Buffer {
  if (value === '') return Buffer.alloc(0);
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, ...varint(bytes.length)]), bytes]);
}

/** decodes field 1 (a string) of a message, skipping every other field; throws on malformed input */
export function decodeString1(buf: Buffer): string {
  let i = 0;
  let value = '';
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint();
      if (i + len > buf.length) throw new Error('truncated field');
      if (field === 1) value = buf.subarray(i, i + len).toString('utf8');
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (i > buf.length) throw new Error('truncated field');
  }
  return value;
}

export const greeterService: ServiceDefinition = {
  sayHello: {
    path: '/helloworld.Greeter/SayHello',
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: HelloRequest) => encodeString1(r.name),
    requestDeserialize: (b: Buffer): HelloRequest => ({ name: decodeString1(b) }),
    responseSerialize: (r: HelloReply) => encodeString1(r.message),
    responseDeserialize: (b: Buffer): HelloReply => ({ message: decodeString1(b) }),
  },
};
