/**
 * Counts gRPC length-prefixed messages in one direction of a stream, as Envoy's grpc_stats
 * filter does for Istio's `istio_request_messages_total` / `istio_response_messages_total`:
 * each message is a 5-byte prefix (compressed flag, 32-bit big-endian length) and its payload,
 * and may arrive split across chunks. A message counts once its prefix has arrived.
 */
export class GrpcMessageCounter {
  count = 0;
  /** bytes of the current prefix still to read (0: inside a payload) */
  private prefixLeft = 5;
  private prefix = Buffer.alloc(5);
  /** payload bytes of the current message still to skip */
  private payloadLeft = 0;

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        continue;
      }
      const n = Math.min(this.prefixLeft, chunk.length - i);
      chunk.copy(this.prefix, 5 - this.prefixLeft, i, i + n);
      this.prefixLeft -= n;
      i += n;
      if (this.prefixLeft === 0) {
        this.count++;
        this.payloadLeft = this.prefix.readUInt32BE(1);
        this.prefixLeft = 5;
      }
    }
  }
}
