/**
 * Prompt collection of dead ArrayBuffers. V8 lets an isolate's external (ArrayBuffer) memory grow
 * by about 64 MB before it collects, and the pipeline has an isolate per worker: without a nudge
 * the garbage of already-written blocks, not live data, would set the peak RSS. A minor GC
 * (scavenge) frees young buffers in about a millisecond; callers run it every few MiB of data.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

function init(): () => void {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    return () => gc({ type: 'minor' });
  } catch {
    return () => {};
  }
}

/** Collects the young generation (no-op where the runtime does not allow it). */
export function collectYoung(): void {
  (collect ??= init())();
}

/** Calls {@link collectYoung} once every `every` bytes reported to it. */
export function garbageMeter(every: number): (bytes: number) => void {
  let n = 0;
  return (bytes) => {
    n += bytes;
    if (n >= every) {
      n = 0;
      collectYoung();
    }
  };
}
