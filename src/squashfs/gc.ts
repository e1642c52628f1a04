/**
 * Prompt collection of dead ArrayBuffers. V8 lets an isolate's external (ArrayBuffer) memory grow
 * by about 64 MB before it collects, and the pipeline has an isolate per worker: without a nudge
 * the garbage of already-written blocks, not live data, would set the peak RSS. A minor GC
 * (scavenge) frees young buffers in about a millisecond; callers run it every few MiB of data.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (o?: { type: 'minor' }) => void;
let gc: Gc | undefined;

function init(): Gc {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Gc;
  } catch {
    return () => {};
  }
}

/** Collects the young generation (no-op where the runtime does not allow it). */
export function collectYoung(): void {
  (gc ??= init())({ type: 'minor' });
}

/**
 * A full collection (no-op where the runtime does not allow it). `gc()` without options: Node 20's
 * V8 (11.3) runs only a scavenge for `gc({ type: 'major' })`.
 */
export function collectAll(): void {
  (gc ??= init())();
}

/**
 * Growth of the isolate's external (ArrayBuffer) memory since the last metered full collection
 * beyond which the next one runs: below it, a full collection would free little and cost 20–30 ms
 * of marking a large tree's heap (real tree, no compression: 0.37 of 2.2 CPU-seconds).
 */
export const MAJOR_GROWTH = 16 << 20;

/**
 * Calls {@link collectYoung} once every `every` bytes reported to it, and a full collection once
 * every `majorEvery` bytes if external memory grew by `majorGrowth` since the last one: buffers
 * that lived through two scavenges (a small young generation promotes them quickly) are freed only
 * by a full one, which V8 otherwise starts only after another 64 MB of external memory.
 */
export function garbageMeter(every: number, majorEvery = Infinity, majorGrowth = MAJOR_GROWTH): (bytes: number) => void {
  let n = 0, m = 0;
  let after = -Infinity; // external memory after the last full collection
  return (bytes) => {
    n += bytes;
    m += bytes;
    if (m >= majorEvery) {
      n = m = 0;
      if (getHeapStatistics().external_memory - after > majorGrowth) {
        collectAll();
        after = getHeapStatistics().external_memory;
      } else collectYoung();
    } else if (n >= every) {
      n = 0;
      collectYoung();
    }
  };
}
