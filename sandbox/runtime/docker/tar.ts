/**
 * A small tar (POSIX ustar, with PAX headers for long names) writer for Docker build contexts.
 * Entries are streamed: a 100 MB node binary is read from disk while the daemon receives it,
 * never held in memory. Timestamps and owners are fixed (0, root), so the same files always give
 * the same archive.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export type TarEntry =
  | { type: 'file'; name: string; mode?: number; data: Buffer | string }
  /** a host file streamed into the archive; `size` must be its size (checked) */
  | { type: 'file'; name: string; mode?: number; source: string; size: number }
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'symlink'; name: string; target: string };

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function writeString(buf: Buffer, offset: number, width: number, text: string): void {
  buf.write(text, offset, Math.min(width, Buffer.byteLength(text)), 'utf8');
}

/** splits a name into ustar's prefix (155 bytes) and name (100 bytes) fields, if it fits */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

function header(fields: { name: string; mode: number; size: number; typeflag: string; linkname?: string }): Buffer {
  const buf = Buffer.alloc(BLOCK, 0);
  const split = splitName(fields.name) ?? { prefix: '', name: fields.name.slice(0, 100) };
  writeString(buf, 0, 100, split.name);
  writeString(buf, 100, 8, octal(fields.mode & 0o7777, 8));
  writeString(buf, 108, 8, octal(0, 8));
  writeString(buf, 116, 8, octal(0, 8));
  writeString(buf, 124, 12, octal(fields.size, 12));
  writeString(buf, 136, 12, octal(0, 12));
  buf.fill(0x20, 148, 156); // checksum counted as spaces
  writeString(buf, 156, 1, fields.typeflag);
  if (fields.linkname) writeString(buf, 157, 100, fields.linkname);
  writeString(buf, 257, 6, 'ustar\0');
  writeString(buf, 263, 2, '00');
  writeString(buf, 265, 32, 'root');
  writeString(buf, 297, 32, 'root');
  writeString(buf, 345, 155, split.prefix);
  let sum = 0;
  for (const byte of buf) sum += byte;
  writeString(buf, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return buf;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** one PAX extended header record: "<len> key=value\n", len counting itself */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function needsPax(name: string, linkname?: string): boolean {
  return splitName(name) === undefined || (linkname !== undefined && Buffer.byteLength(linkname) > 100);
}

function* headerBlocks(name: string, mode: number, size: number, typeflag: string, linkname?: string): Generator<Buffer> {
  if (needsPax(name, linkname)) {
    let records = paxRecord('path', name);
    if (linkname !== undefined && Buffer.byteLength(linkname) > 100) records += paxRecord('linkpath', linkname);
    const data = Buffer.from(records, 'utf8');
    yield header({ name: 'PaxHeader', mode: 0o644, size: data.length, typeflag: 'x' });
    yield data;
    yield padding(data.length);
  }
  yield header({ name, mode, size, typeflag, linkname });
}

function normalize(name: string, dir: boolean): string {
  let n = name.replace(/\\/g, '/').replace(/^\/+/, '').replace(/^(\.\/)+/, '');
  if (dir && !n.endsWith('/')) n += '/';
  return n;
}

async function* fileChunks(source: string, size: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of createReadStream(source)) {
    const buf = chunk as Buffer;
    if (seen + buf.length > size) throw new Error(`${source} grew while it was being archived`);
    seen += buf.length;
    yield buf;
  }
  if (seen !== size) throw new Error(`${source} shrank while it was being archived`);
}

/** the archive, block by block */
export async function* tarChunks(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    if (e.type === 'dir') {
      yield* headerBlocks(normalize(e.name, true), e.mode ?? 0o755, 0, '5');
    } else if (e.type === 'symlink') {
      yield* headerBlocks(normalize(e.name, false), 0o777, 0, '2', e.target);
    } else if ('source' in e) {
      yield* headerBlocks(normalize(e.name, false), e.mode ?? 0o644, e.size, '0');
      yield* fileChunks(e.source, e.size);
      yield padding(e.size);
    } else {
      const data = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data;
      yield* headerBlocks(normalize(e.name, false), e.mode ?? 0o644, data.length, '0');
      yield data;
      yield padding(data.length);
    }
  }
  yield Buffer.alloc(BLOCK * 2, 0);
}

export function tarStream(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): Readable {
  return Readable.from(tarChunks(entries), { objectMode: false });
}

/** the whole archive in memory (tests, small contexts) */
export async function tarBuffer(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of tarChunks(entries)) parts.push(c);
  return Buffer.concat(parts);
}
