/**
 * The memory of one thread of meshbox (the main thread or a data-plane worker): its V8 heap, as
 * `GET /memory` and the benchmark report it. A process's RSS is shared by its threads; the heap
 * is each thread's own.
 */
import v8 from 'node:v8';

export interface ThreadMemory {
  /** V8 heap in use, MB */
  heapUsedMB: number;
  /** V8 heap reserved (committed), MB */
  heapTotalMB: number;
  /** memory V8 tracks outside its heap (Buffers, TLS, ...), MB */
  externalMB: number;
  /** the heap limit, MB */
  heapLimitMB: number;
  /** reserved size of each heap space (new_space, old_space, code_space, large_object_space, ...), MB */
  spacesMB: Record<string, number>;
}

const mb = (n: number): number => Math.round((n / 1048576) * 10) / 10;

export function threadMemory(): ThreadMemory {
  const h = v8.getHeapStatistics();
  const spacesMB: Record<string, number> = {};
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_size > 0) spacesMB[s.space_name] = mb(s.space_size);
  return { heapUsedMB: mb(h.used_heap_size), heapTotalMB: mb(h.total_heap_size), externalMB: mb(h.external_memory), heapLimitMB: mb(h.heap_size_limit), spacesMB };
}
