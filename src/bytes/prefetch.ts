/**
 * Read-ahead for the host files a writer reads next (squashfs pack, cpio pack). The writers read
 * one file at a time on the main thread; a file that is not in the page cache stalls it for a disk
 * round trip, and a tree of small files is mostly such round trips. With the native addon, the
 * names of the next small files go to the thread pool in batches, where `posix_fadvise(WILLNEED)`
 * starts their reads at once: many requests in flight instead of one, and the writer's own read
 * finds the pages there. Advice only: the bytes read and the image are the same with or without it.
 * From a warm cache it is only work, on the cores that compress: a batch whose files were all in
 * the page cache already makes the prefetcher pass over the next files (64, doubling while batches
 * keep finding them cached, up to 1,024) before it asks again.
 */
import { nativeCodecs } from '../codec/native.js';

/** A host file to read ahead: its path and size. */
export interface HostPath {
  readonly path: string;
  readonly size: number;
}

/**
 * A payload that is a host file read by path, as itself (squashfs's hostFile and cpio's node:fs
 * files have `path` and `size` and mark themselves with a `hostPath` getter), else undefined.
 */
export function hostPathOf(content: unknown): HostPath | undefined {
  const c = content as { hostPath?: unknown; path?: unknown; size?: unknown } | undefined;
  return c && typeof c === 'object' && typeof c.hostPath === 'string' && c.path === c.hostPath && typeof c.size === 'number' ? (c as HostPath) : undefined;
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
  /** Files passed over, at most, after batches that found everything cached. */
  warmSkip: 1024,
});
const { small: SMALL, aheadBytes: AHEAD_BYTES, aheadFiles: AHEAD_FILES, batchFiles: BATCH_FILES, batchBytes: BATCH_BYTES, inFlight: IN_FLIGHT, warmSkip: WARM_SKIP } =
  PREFETCH;

export interface Prefetcher {
  /** False when it does nothing (no native addon, or IMGKIT_PREFETCH=0). */
  readonly active: boolean;
  /** The writer is about to read item `index`. */
  at(index: number): void;
}

const NONE: Prefetcher = { active: false, at() {} };

/** What a prefetcher reads from: an array, or a {@link PrefetchWindow} over a streamed walk. */
export interface PrefetchList {
  readonly length: number;
  at(index: number): HostPath | undefined;
}

/**
 * The entries of a streamed walk by index, holding only those the writer has not passed: memory
 * stays bounded however long the walk.
 */
export class PrefetchWindow implements PrefetchList {
  #base = 0;
  #items: (HostPath | undefined)[] = [];

  get length(): number {
    return this.#base + this.#items.length;
  }

  at(index: number): HostPath | undefined {
    return this.#items[index - this.#base];
  }

  push(item: HostPath | undefined): void {
    this.#items.push(item);
  }

  /** Forgets the entries before `index` (the writer is past them). */
  drop(index: number): void {
    const n = Math.min(index - this.#base, this.#items.length);
    if (n < 1024) return; // in steps, not an array shift per entry
    this.#items.splice(0, n);
    this.#base += n;
  }
}

/**
 * A prefetcher over `items` in the order the writer reads them (undefined: not a host file). The
 * list may grow as the writer learns of more entries (a streamed walk): each `at()` looks at its
 * current length; entries before the one last passed to `at()` are not read again. `run` takes a
 * batch of names joined by NUL (default: the native addon's prefetchAsync) and may resolve to how
 * many of them were not cached (0: pass over the next files). Without it, or with
 * `IMGKIT_PREFETCH=0`, the prefetcher does nothing (`active` false).
 */
export function prefetcher(items: PrefetchList, run: ((paths: string) => Promise<unknown>) | undefined = nativeCodecs()?.prefetchAsync): Prefetcher {
  if (!run || process.env.IMGKIT_PREFETCH === '0') return NONE;
  let next = 0; // first item not yet handed out
  let cur = 0; // the writer's position
  let inFlight = 0;
  let stopped = false;
  // what was handed out and not yet passed, with sizes kept here: a window may forget an entry
  // before at() moves past it
  const handed: number[] = []; // index, size, index, size…
  let head = 0;
  let ahead = 0; // bytes in `handed` from `head` on
  let skip = 0; // files passed over after the last batch found all of its files cached
  const pump = () => {
    while (!stopped && inFlight < IN_FLIGHT && next < items.length && next - cur < AHEAD_FILES && ahead < AHEAD_BYTES) {
      // room for a whole batch, unless the writer is within a batch of catching up: a prefetcher
      // as far ahead as it may be would otherwise send a batch of one file for every file passed
      const room = Math.min(items.length, cur + AHEAD_FILES) - next;
      if (next - cur >= BATCH_FILES && (room < BATCH_FILES || ahead > AHEAD_BYTES - BATCH_BYTES)) return;
      const names: string[] = [];
      let bytes = 0;
      while (next < items.length && names.length < BATCH_FILES && bytes < BATCH_BYTES && next - cur < AHEAD_FILES) {
        const it = items.at(next);
        if (it && it.size > 0 && it.size <= SMALL) {
          names.push(it.path);
          handed.push(next, it.size);
          bytes += it.size;
        }
        next++;
      }
      ahead += bytes;
      if (names.length === 0) continue;
      inFlight++;
      try {
        run(names.join('\0')).then(done, done);
      } catch {
        stopped = true; // advice only: a runner that throws is not asked again
        return;
      }
    }
  };
  const done = (advised?: unknown) => {
    inFlight--;
    if (advised === 0) {
      skip = Math.min(skip ? skip * 2 : BATCH_FILES, WARM_SKIP);
      next += skip;
    } else if (typeof advised === 'number') skip = 0;
    pump();
  };
  return {
    active: true,
    at(index: number) {
      for (; head < handed.length && handed[head]! < index; head += 2) ahead -= handed[head + 1]!;
      if (head >= 2048) {
        handed.splice(0, head);
        head = 0;
      }
      cur = index;
      if (next < index) next = index; // skipped past what was handed out
      pump();
    },
  };
}
