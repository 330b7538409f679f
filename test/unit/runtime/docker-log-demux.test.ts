/** Docker's multiplexed stream to lines, whatever the chunking. */
import { describe, expect, it } from 'vitest';
import { LogDemuxer } from '../../../sandbox/runtime/docker/log-demux.js';

function frame(type: number, text: string | Buffer): Buffer {
  const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('LogDemuxer', () => {
  it('splits frames into lines per stream, across arbitrary chunk boundaries', () => {
    const all = Buffer.concat([frame(1, 'hello\nwor'), frame(2, 'oops\r\n'), frame(1, 'ld\n'), frame(1, Buffer.from('héllo\n', 'utf8'))]);
    for (const size of [1, 3, 7, 8, 9, 64]) {
      const lines: string[] = [];
      const d = new LogDemuxer((s, l) => lines.push(`${s}:${l}`));
      for (let i = 0; i < all.length; i += size) d.push(all.subarray(i, i + size));
      d.end();
      expect(lines).toEqual(['stdout:hello', 'stderr:oops', 'stdout:world', 'stdout:héllo']);
    }
  });

  it('flushes an unterminated last line at the end, and ignores stdin frames', () => {
    const lines: string[] = [];
    const d = new LogDemuxer((s, l) => lines.push(`${s}:${l}`));
    d.push(Buffer.concat([frame(0, 'in\n'), frame(2, 'partial')]));
    expect(lines).toEqual([]);
    d.end();
    expect(lines).toEqual(['stderr:partial']);
  });

  it('cuts very long lines', () => {
    const lines: string[] = [];
    const d = new LogDemuxer((_s, l) => lines.push(l));
    d.push(frame(1, `${'a'.repeat(70_000)}\n`));
    expect(lines.map((l) => l.length)).toEqual([65_536, 70_000 - 65_536]);
  });
});
