/**
 * Docker's multiplexed attach/logs stream (no TTY) to lines: each frame is an 8-byte header
 * (stream type: 1 stdout, 2 stderr; 3 bytes zero; payload length, big-endian uint32) followed by
 * the payload. Lines are split per stream; a line longer than 64 KiB is cut.
 */
export type LogStream = 'stdout' | 'stderr';

const MAX_LINE = 64 * 1024;

export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  private readonly decoders = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8') };

  constructor(private readonly onLine: (stream: LogStream, line: string) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    while (this.pending.length - offset >= 8) {
      const type = this.pending[offset]!;
      const size = this.pending.readUInt32BE(offset + 4);
      if (this.pending.length - offset - 8 < size) break;
      const payload = this.pending.subarray(offset + 8, offset + 8 + size);
      offset += 8 + size;
      if (type === 1 || type === 2) this.text(type === 1 ? 'stdout' : 'stderr', payload);
    }
    this.pending = offset === 0 ? this.pending : Buffer.from(this.pending.subarray(offset));
  }

  private text(stream: LogStream, payload: Buffer): void {
    let buf = this.partial[stream] + this.decoders[stream].decode(payload, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      this.line(stream, buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      this.onLine(stream, buf.slice(0, MAX_LINE));
      buf = buf.slice(MAX_LINE);
    }
    this.partial[stream] = buf;
  }

  private line(stream: LogStream, text: string): void {
    let rest = text;
    while (rest.length > MAX_LINE) {
      this.onLine(stream, rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.onLine(stream, rest);
  }

  /** the stream ended: flush unterminated last lines */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.partial[stream] + this.decoders[stream].decode();
      this.partial[stream] = '';
      if (rest) this.line(stream, rest.replace(/\r$/, ''));
    }
  }
}
