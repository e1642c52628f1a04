/**
 * The part of lzma-native (liblzma 5.2 bindings, prebuilt for linux/darwin/win32 x64 and arm64) that
 * xz.ts and lzma.ts use, its error mapping, and the LZMA1/LZMA2 preset table; and the decoders
 * both run, from the native addon where it is built (output in bounded pieces) or else from
 * lzma-native. Loaded only through those two modules, which the registry imports on demand.
 */
import { createRequire } from 'node:module';
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';
import { AddonDecoder, codecError, plain, throughTransform, type Step, type StepDecoder, type TransformLike } from './pipe.js';
import { checkDictSize, presetDictSize } from './lzma-options.js';
import { nativeCodecs } from './native.js';

/** A lzma-native stream: a readable-stream Transform over a liblzma encoder. */
export interface LzmaStream extends TransformLike {
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

/** lzma-native's bufferHandler: output, input chunks done, error or end (`buf` null), progress. */
type BufferHandler = (buf: Uint8Array | null | undefined, processed: number | undefined, error: unknown, totalIn: number | null) => void;

interface NativeStream {
  streamDecoder(o: { memlimit: number; flags: number }): void;
  aloneDecoder(o: { memlimit: number }): void;
  aloneEncoder(o: LzmaFilterOptions): void;
  streamEncoder_(filters: readonly { id: string; options?: LzmaFilterOptions }[], check: number): void;
  getStream(o: object): LzmaStream;
  code(input: Uint8Array | null, async: boolean): void;
  bufferHandler: BufferHandler;
  resetUnderlying(): void;
}

interface LzmaNative {
  Stream: new () => NativeStream;
  asyncCodeAvailable: boolean;
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

let binding: LzmaNative | undefined;

/**
 * The binding, loaded on first use: loading it costs ~15 ms and a native library, which the
 * native addon's decoders and encoders do not need.
 */
export function lzmaNative(): LzmaNative {
  return (binding ??= createRequire(import.meta.url)('lzma-native') as LzmaNative);
}

/** liblzma's LZMA_IGNORE_CHECK decoder flag (5.1.4+; lzma-native does not export it). */
export const IGNORE_CHECK = 0x10;

/** Memory liblzma may use for the dictionary: never more than the output allowed, plus slack for small outputs. */
export const memlimitFor = (maxOutput: number): number => Math.max(maxOutput, 64 * 2 ** 20) + 32 * 2 ** 20;

/** A raw liblzma stream, initialized by `init` (lzma-native's createStream, minus its option defaults). */
export function open(init: (s: NativeStream) => void): LzmaStream {
  const s = new (lzmaNative().Stream)();
  init(s);
  return s.getStream({});
}

/**
 * The decoders xz.ts and lzma.ts run: 'xz' one .xz stream (the caller reads stream padding and any
 * next stream), 'alone' an .lzma stream with its 13-byte header.
 */
export type DecoderKind = 'xz' | 'alone';

const KIND = { xz: 0, alone: 1, sized: 2 } as const;

/**
 * A liblzma decoder run step by step: the native addon's, each step of which gives at most 1 MiB
 * of output (so the consumer's pace bounds the memory output takes), or without the addon
 * lzma-native's, each step of which gives all the output of its input. `flags` are liblzma's
 * decoder flags (xz only).
 */
export function openDecoder(kind: DecoderKind, memlimit: number, flags = 0): StepDecoder {
  const n = nativeCodecs();
  if (n?.lzmaDecoder) return new AddonDecoder(n, n.lzmaDecoder(KIND[kind], memlimit, flags));
  return new LzmaNativeDecoder((s) => (kind === 'xz' ? s.streamDecoder({ memlimit, flags }) : s.aloneDecoder({ memlimit })));
}

/**
 * A decoder for the LZMA1 data after the .lzma `header` (13 bytes, stating the size), which ends at
 * that size and takes no end marker after it: as liblzma 5.2's alone decoder (lzma-native's) reads
 * a stream of known size, and the kernel's unlzma. liblzma 5.4's alone decoder also takes an end
 * marker there; it has LZMA1EXT, through which the addon gives this. Undefined where the addon is
 * missing or its liblzma is older: an 'alone' decoder given the header reads the same way there.
 */
export function sizedDecoder(header: Uint8Array, memlimit: number): StepDecoder | undefined {
  const n = nativeCodecs();
  if (!n?.lzmaDecoder || !((n.lzmaDecoders ?? 0) & (1 << KIND.sized))) return undefined;
  return new AddonDecoder(n, n.lzmaDecoder(KIND.sized, memlimit, 0, header));
}

/** Output one lzma-native call may give before the next gets less input. */
const SLICE_OUTPUT = 4 * 2 ** 20;

/**
 * lzma-native's liblzma stream driven directly: its Transform (getStream) starts a new decoder by
 * itself when an .xz stream ends, forgetting how much input the stream took, and pushes all the
 * output of a write at once. Here a call gets a slice of the input, sized from the output the
 * last slice gave (LZMA expands a byte into kilobytes at most), so that a call gives a few MiB;
 * the steps hand its output on one buffer at a time, and the next call waits for them.
 */
class LzmaNativeDecoder implements StepDecoder {
  readonly #s: NativeStream;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #slice = 1024;
  #end = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  #closed = false;
  totalIn = 0;

  constructor(init: (s: NativeStream) => void) {
    this.#s = new (lzmaNative().Stream)();
    init(this.#s);
    this.#s.bufferHandler = (buf, processed, error, totalIn) => {
      if (typeof totalIn === 'number') this.totalIn = totalIn;
      if (error) this.#error ??= error;
      else if (buf === null) this.#end = true;
      else if (buf) {
        this.#out.push(plain(buf));
        this.#outBytes += buf.length;
      }
      if (buf === null || typeof processed === 'number') {
        const w = this.#wake;
        this.#wake = undefined;
        w?.();
      }
    };
  }

  async step(input: Uint8Array, finish: boolean): Promise<Step> {
    if (this.#out.length === 0 && !this.#end && this.#error === undefined) {
      const before = this.totalIn;
      const slice = input.subarray(0, this.#slice);
      this.#outBytes = 0;
      if (slice.length > 0) await this.#code(slice);
      if (finish && !this.#end && this.#error === undefined) await this.#code(null);
      if (this.#outBytes > SLICE_OUTPUT) this.#slice = Math.max(16, Math.floor(this.#slice / 4));
      else if (this.#outBytes < SLICE_OUTPUT / 4 && slice.length === this.#slice) this.#slice = Math.min(2 ** 20, this.#slice * 2);
      // all of the slice unless the stream ended in it, which lzma-native's progress then says
      return this.#next(this.#end ? this.totalIn - before : slice.length);
    }
    return this.#next(0);
  }

  #next(used: number): Step {
    const out = this.#out.shift() ?? new Uint8Array(0);
    const last = this.#out.length === 0;
    return { out, used, end: last && this.#end, ...(last && this.#error !== undefined && { error: this.#error }) };
  }

  #code(input: Uint8Array | null): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#s.code(input && Buffer.from(input.buffer, input.byteOffset, input.byteLength), lzmaNative().asyncCodeAvailable);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#s.resetUnderlying();
  }
}

/** Runs `input` through an encoder. Encoder errors are caller mistakes (bad options) and propagate as RangeError. */
export function encodeWith(stream: LzmaStream, input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  return throughTransform(stream, input, (e) => new RangeError(`Cannot encode: liblzma says "${messageOf(e)}"`, { cause: e }), () => stream.cleanup());
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** liblzma's lzma_ret names (lzma-native and the addon's decoder put them in `error.name`) to FormatError codes. */
const CODES: Readonly<Record<string, FormatErrorCode>> = {
  LZMA_BUF_ERROR: 'TRUNCATED', // no progress possible at LZMA_FINISH: the input ended early
  LZMA_DATA_ERROR: 'BAD_FIELD',
  LZMA_FORMAT_ERROR: 'BAD_MAGIC',
  LZMA_OPTIONS_ERROR: 'UNSUPPORTED',
  LZMA_UNSUPPORTED_CHECK: 'UNSUPPORTED',
  LZMA_MEMLIMIT_ERROR: 'LIMIT',
  LZMA_MEM_ERROR: 'LIMIT',
};

/** Wraps a decoder's error (lzma-native's, the addon's, or readable-stream's) as a FormatError. */
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
  const native = lzmaNative();
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
