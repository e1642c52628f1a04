/**
 * The part of lzma-native (liblzma 5.2 bindings, prebuilt for linux/darwin/win32 x64 and arm64) that
 * xz.ts and lzma.ts use, its error mapping, and the LZMA1/LZMA2 preset table. Loaded only through
 * those two modules, which the registry imports on demand.
 */
import { createRequire } from 'node:module';
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';
import { codecError, throughTransform, within, type Budget, type TransformLike } from './pipe.js';
import { checkDictSize, presetDictSize } from './lzma-options.js';

/** A lzma-native stream: a readable-stream Transform plus liblzma progress counters. */
export interface LzmaStream extends TransformLike {
  totalIn(): number;
  /** Frees liblzma's memory (the dictionary) now rather than at GC. */
  cleanup(): void;
}

/** Options of one LZMA1/LZMA2 filter, as lzma-native's parseOptionsLZMA reads them. */
export interface LzmaFilterOptions {
  dictSize: number;
  lc: number;
  lp: number;
  pb: number;
  mode: number;
  niceLen: number;
  mf: number;
  depth: number;
}

interface NativeStream {
  streamDecoder(o: { memlimit: number; flags: number }): void;
  aloneDecoder(o: { memlimit: number }): void;
  aloneEncoder(o: LzmaFilterOptions): void;
  streamEncoder_(filters: readonly { id: string; options?: LzmaFilterOptions }[], check: number): void;
  getStream(o: object): LzmaStream;
}

interface LzmaNative {
  Stream: new () => NativeStream;
  CHECK_NONE: number;
  CHECK_CRC32: number;
  CHECK_CRC64: number;
  CHECK_SHA256: number;
  MODE_FAST: number;
  MODE_NORMAL: number;
  MF_HC3: number;
  MF_HC4: number;
  MF_BT4: number;
}

/** The binding; loading it costs ~10 ms and a native library, hence the lazy registry. */
export const native = createRequire(import.meta.url)('lzma-native') as LzmaNative;

/** liblzma's LZMA_IGNORE_CHECK decoder flag (5.1.4+; lzma-native does not export it). */
export const IGNORE_CHECK = 0x10;

/** Memory liblzma may use for the dictionary: never more than the output allowed, plus slack for small outputs. */
export const memlimitFor = (maxOutput: number): number => Math.max(maxOutput, 64 * 2 ** 20) + 32 * 2 ** 20;

/** A raw liblzma stream, initialized by `init` (lzma-native's createStream, minus its option defaults). */
export function open(init: (s: NativeStream) => void): LzmaStream {
  const s = new native.Stream();
  init(s);
  return s.getStream({});
}

/**
 * Runs `input` through a decoder and yields its output, counted against `budget`. liblzma errors
 * become FormatErrors for `format` at the decoder's input position (`base` is added: the offset of
 * the first byte fed).
 */
export function decodeWith(
  format: string,
  stream: LzmaStream,
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  budget: Budget,
  base = 0,
): AsyncGenerator<Uint8Array> {
  const out = throughTransform(stream, input, (e) => lzmaError(format, e, base + stream.totalIn()), () => stream.cleanup());
  return within(out, budget);
}

/** Runs `input` through an encoder. Encoder errors are caller mistakes (bad options) and propagate as RangeError. */
export function encodeWith(stream: LzmaStream, input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  return throughTransform(stream, input, (e) => new RangeError(`Cannot encode: liblzma says "${messageOf(e)}"`, { cause: e }), () => stream.cleanup());
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** liblzma's lzma_ret names (lzma-native puts them in `error.name`) to FormatError codes. */
const CODES: Readonly<Record<string, FormatErrorCode>> = {
  LZMA_BUF_ERROR: 'TRUNCATED', // no progress possible at LZMA_FINISH: the input ended early
  LZMA_DATA_ERROR: 'BAD_FIELD',
  LZMA_FORMAT_ERROR: 'BAD_MAGIC',
  LZMA_OPTIONS_ERROR: 'UNSUPPORTED',
  LZMA_UNSUPPORTED_CHECK: 'UNSUPPORTED',
  LZMA_MEMLIMIT_ERROR: 'LIMIT',
  LZMA_MEM_ERROR: 'LIMIT',
};

/** Wraps an exception from lzma-native (or readable-stream) as a FormatError. */
export function lzmaError(format: string, error: unknown, offset: number): FormatError {
  if (error instanceof FormatError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  let code: FormatErrorCode = (typeof name === 'string' && CODES[name]) || 'BAD_FIELD';
  if (code === 'BAD_MAGIC' && offset > 0) code = 'BAD_FIELD'; // data after a stream that is not another stream
  const what = code === 'TRUNCATED' ? 'input ends early' : code === 'LIMIT' ? 'dictionary exceeds the memory limit' : `liblzma says "${messageOf(error)}"`;
  return codecError(format, code, offset, `Cannot decode ${format} stream: ${what}`, error);
}

/**
 * liblzma's lzma_lzma_preset() (src/liblzma/lzma/lzma_encoder_presets.c, 5.2), rebuilt so that the
 * dictionary size and lc/lp/pb can be overridden: lzma-native applies a `preset` after, not before,
 * the individual fields. A test checks this gives byte-identical output to the real presets.
 */
export function presetOptions(level: number): LzmaFilterOptions {
  const fast = level <= 3;
  return {
    dictSize: presetDictSize(level),
    lc: 3,
    lp: 0,
    pb: 2,
    mode: fast ? native.MODE_FAST : native.MODE_NORMAL,
    niceLen: fast ? (level <= 1 ? 128 : 273) : level === 4 ? 16 : level === 5 ? 32 : 64,
    mf: level === 0 ? native.MF_HC3 : fast ? native.MF_HC4 : native.MF_BT4,
    depth: fast ? [4, 8, 24, 48][level]! : 0,
  };
}

export { checkDictSize };
