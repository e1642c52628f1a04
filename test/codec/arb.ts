/** fast-check models and small helpers shared by the codec tests (not a test file itself). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { concat } from '../../src/bytes/source.js';

const repeat = (p: Uint8Array, n: number): Uint8Array => concat(Array.from({ length: n }, () => p));

/** Bytes with the structure compressors look for: repeated phrases, long runs, a little noise. */
export const compressible: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 24 }), fc.integer({ min: 1, max: 40 })).map(([p, n]) => repeat(p, n)),
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 3000 })).map(([b, n]) => new Uint8Array(n).fill(b)),
    ),
    { maxLength: 12 },
  )
  .map((parts) => concat(parts));

/** Any payload: random bytes (incompressible) or structured ones, empty included. */
export const payload: fc.Arbitrary<Uint8Array> = fc.oneof(fc.uint8Array({ maxLength: 2048 }), compressible);

/** Sorted cut points inside a buffer of `len` bytes. */
export const cuts = (len: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, len - 1) }), { maxLength: 16 }).map((c) => [...c].sort((a, b) => a - b));

/** `data` split at the sorted offsets `at` (those past the end are ignored), as an async stream (1-byte chunks when `at` covers every index). */
export async function* chunked(data: Uint8Array, at: readonly number[]): AsyncGenerator<Uint8Array> {
  let prev = 0;
  for (const c of [...at.filter((c) => c < data.length), data.length]) {
    if (c <= prev) continue;
    yield data.subarray(prev, c);
    prev = c;
  }
}

export async function* once(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

export async function gather(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c.slice());
  return concat(parts);
}

const WORDS = ['boot', 'kernel', 'ramdisk', 'vendor', 'dtb', ' ', ' ', '\n', 'android', 'u-boot', '0123456789'].map((w) => new TextEncoder().encode(w));

/** Deterministic text-like bytes (a seeded LCG), for fixtures that are not worth a property. */
export function sample(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; ) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const w = WORDS[(s >>> 8) % WORDS.length]!;
    for (let k = 0; k < w.length && i < n; k++) out[i++] = w[k]!;
    if (s % 7 === 0 && i < n) out[i++] = s >>> 24; // a little noise
  }
  return out;
}

/** Asserts `p` rejects with a FormatError for `format` (and `code`, when given); returns it. */
export async function rejectsFormat(p: Promise<unknown>, format: string, code?: string): Promise<FormatError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof FormatError, `expected a FormatError, got ${error === undefined ? 'a value' : String((error as Error)?.stack ?? error)}`);
  assert.equal(error.format, format, error.message);
  if (code !== undefined) assert.equal(error.code, code, error.message);
  assert.ok(Number.isSafeInteger(error.offset) && error.offset >= 0, `offset ${error.offset}`);
  return error;
}

/** Resolves to the value, or undefined after checking the error is a FormatError for `format`. */
export async function valueOrFormatError<T>(p: Promise<T>, format: string): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (!(e instanceof FormatError)) throw new Error(`expected a FormatError, got ${String((e as Error)?.stack ?? e)}`);
    assert.equal(e.format, format, e.message);
    return undefined;
  }
}

const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** Byte equality with a short message (deepEqual would print megabytes). */
export function equalBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(view(actual).equals(view(expected)), `${what}: contents differ`);
}
