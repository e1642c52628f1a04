/**
 * Read-ahead for the files the writer reads next. The writer reads one file at a time on the main
 * thread; a file that is not in the page cache stalls it for a disk round trip, and a tree of small
 * files is mostly such round trips. With the native addon, the names of the next small files go to
 * the thread pool in batches, where `posix_fadvise(WILLNEED)` starts their reads at once: many
 * requests in flight instead of one, and the writer's own read finds the pages there.
 * Advice only: the bytes read and the image are the same with or without it.
 */
import { nativeCodecs } from '../codec/native.js';

/** A payload that is a host file (tree.ts's hostFile). */
export interface HostPath {
  readonly path: string;
  readonly size: number;
}

export const PREFETCH = Object.freeze({
  /** Files larger than this are left to the kernel's own sequential read-ahead. */
  small: 256 << 10,
  /** How far ahead of the writer: bytes and files. */
  aheadBytes: 8 << 20,
  aheadFiles: 1024,
  /** Per batch (one pool job), and batches in flight at once. */
  batchFiles: 64,
  batchBytes: 1 << 20,
  inFlight: 2,
});
const { small: SMALL, aheadBytes: AHEAD_BYTES, aheadFiles: AHEAD_FILES, batchFiles: BATCH_FILES, batchBytes: BATCH_BYTES, inFlight: IN_FLIGHT } = PREFETCH;

export interface Prefetcher {
  /** The writer is about to read item `index`. */
  at(index: number): void;
}

const NONE: Prefetcher = { at() {} };

/**
 * A prefetcher over `items` in the order the writer reads them (undefined: not a host file).
 * `run` takes a batch of names joined by NUL (default: the native addon's prefetchAsync). Without
 * it, or with `IMGKIT_PREFETCH=0`, the prefetcher does nothing.
 */
export function prefetcher(items: readonly (HostPath | undefined)[], run = nativeCodecs()?.prefetchAsync): Prefetcher {
  if (!run || process.env.IMGKIT_PREFETCH === '0' || items.length < 2) return NONE;
  let next = 0; // first item not yet handed out
  let ahead = 0; // bytes handed out past the writer's position
  let cur = 0;
  let inFlight = 0;
  const sizeOf = (i: number) => {
    const it = items[i];
    return it && it.size > 0 && it.size <= SMALL ? it.size : 0;
  };
  const pump = () => {
    while (inFlight < IN_FLIGHT && next < items.length && next - cur < AHEAD_FILES && ahead < AHEAD_BYTES) {
      const names: string[] = [];
      let bytes = 0;
      while (next < items.length && names.length < BATCH_FILES && bytes < BATCH_BYTES && next - cur < AHEAD_FILES) {
        const n = sizeOf(next);
        if (n > 0) {
          names.push(items[next]!.path);
          bytes += n;
        }
        next++;
      }
      ahead += bytes;
      if (names.length === 0) continue;
      inFlight++;
      try {
        run(names.join('\0')).then(done, done);
      } catch {
        inFlight = IN_FLIGHT; // advice only: a runner that throws is not asked again
        return;
      }
    }
  };
  const done = () => {
    inFlight--;
    pump();
  };
  return {
    at(index: number) {
      for (; cur < index && cur < next; cur++) ahead -= sizeOf(cur);
      if (cur < index) cur = next = index; // skipped past what was handed out
      pump();
    },
  };
}
