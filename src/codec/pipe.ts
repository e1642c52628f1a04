/**
 * Plumbing shared by the codecs: the output budget (decompression-bomb guard), error wrapping, and an
 * adapter from a Node-style Transform (node:zlib, lzma-native) to an async iterable.
 */
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';
import { concat } from '../bytes/source.js';
import type { LzmaDecoderHandle, NativeCodecs } from './native.js';

/** Counts decoded bytes against `maxOutput`; the first byte past it is a FormatError LIMIT. */
export class Budget {
  used = 0;
  constructor(
    readonly format: string,
    readonly max: number,
  ) {}
  /** Bytes still allowed. */
  get left(): number {
    return this.max - this.used;
  }
  /** Accounts for `n` more output bytes; `offset` is the best known input offset. */
  take(n: number, offset = 0): void {
    if (n > this.max - this.used) throw this.error(offset);
    this.used += n;
  }
  error(offset = 0): FormatError {
    return new FormatError(this.format, 'LIMIT', offset, `Cannot decode: output exceeds maxOutput of ${this.max} bytes`);
  }
}

/** A FormatError for `format`, keeping `cause` (a library's exception) for debugging. */
export function codecError(format: string, code: FormatErrorCode, offset: number, detail: string, cause?: unknown): FormatError {
  return new FormatError(format, code, Math.max(0, offset), detail, cause === undefined ? undefined : { cause });
}

/** Passes chunks through unchanged while counting them against `budget`. */
export async function* within(chunks: AsyncIterable<Uint8Array>, budget: Budget): AsyncGenerator<Uint8Array> {
  for await (const c of chunks) {
    budget.take(c.length);
    yield c;
  }
}

/** Public signatures use Uint8Array, never Buffer (whose `slice` aliases): re-view without copying. */
export function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The part of a Node Transform (node:zlib, readable-stream) that {@link throughTransform} uses. */
export interface TransformLike {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches Node's EventEmitter signature
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/** What {@link throughTransform} does when the transform fails: return the error to throw instead. */
export type ErrorMapper = (error: unknown) => Error;

const HIGH = 16; // chunks queued before the transform is paused
const LOW = 4; //   … and resumed

/**
 * Feeds `input` through `t` and yields its output. Errors raised by `t` go through `mapError`;
 * errors raised by `input` (I/O) propagate unchanged. When the consumer stops early, `t` is
 * destroyed and `release` runs, so native memory is freed without waiting for the GC.
 */
export async function* throughTransform(
  t: TransformLike,
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  mapError: ErrorMapper,
  release?: () => void,
): AsyncGenerator<Uint8Array> {
  const queue: Uint8Array[] = [];
  let ended = false;
  let failure: { error: unknown; fromInput: boolean } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Uint8Array): void => {
    queue.push(chunk);
    if (queue.length > HIGH) t.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failure ??= { error, fromInput: false };
    notify();
  };
  t.on('data', onData);
  t.on('end', onEnd);
  t.on('error', onError); // stays attached: a late error after destroy() must not crash the process

  const settled = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        t.removeListener('drain', done);
        t.removeListener('close', done);
        t.removeListener('error', done);
        resolve();
      };
      t.on('drain', done);
      t.on('close', done);
      t.on('error', done);
    });

  const pump = (async (): Promise<void> => {
    try {
      for await (const chunk of input) {
        if (stopped || failure) return;
        if (chunk.length > 0 && !t.write(chunk)) await settled();
      }
      if (!stopped && !failure) t.end();
    } catch (error) {
      failure ??= { error, fromInput: true };
      notify();
    }
  })();

  let finished = false;
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length <= LOW) t.resume();
        yield plain(chunk);
        continue;
      }
      if (failure) throw failure.fromInput ? failure.error : mapError(failure.error);
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    finished = true;
  } finally {
    stopped = true;
    t.removeListener('data', onData);
    t.removeListener('end', onEnd);
    if (!finished) {
      t.destroy();
      release?.();
    }
    notify();
    void pump; // not awaited: a stalled input must not hold up the consumer's exit
  }
}

/** An error thrown by the caller's input iterable, carried through a decoder untouched. */
class InputFailure {
  constructor(readonly error: unknown) {}
}

async function* marked(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const c of chunks) yield c;
  } catch (error) {
    throw new InputFailure(error);
  }
}

/**
 * Runs a pure-TypeScript decoder so that it can only fail with a FormatError for `format`: anything
 * else it throws (which would be a bug) is wrapped, while errors from the caller's input (I/O)
 * propagate unchanged.
 */
export async function* guarded(
  format: string,
  decode: (input: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    yield* decode(marked(chunks));
  } catch (e) {
    if (e instanceof InputFailure) throw e.error;
    if (e instanceof FormatError) throw e;
    throw codecError(format, 'BAD_FIELD', 0, `Cannot decode ${format} stream: ${String(e)}`, e);
  }
}

/** What one step of a {@link StepDecoder} did. */
export interface Step {
  /** Output of this step; may be empty. */
  readonly out: Uint8Array;
  /** Input bytes the step took. */
  readonly used: number;
  /** The stream ended: the decoder takes no more input. */
  readonly end: boolean;
  /** Set when the decoder failed, after producing `out`: the library's exception. */
  readonly error?: unknown;
}

/**
 * A decoder run one step at a time, each step producing a bounded piece of output: the consumer
 * asks for the next piece, so its pace bounds the memory that output takes (a Transform pushes
 * all the output of a write at once, whatever the consumer does).
 */
export interface StepDecoder {
  /** Decodes from `input` (possibly empty); `finish` says that no input follows it. */
  step(input: Uint8Array, finish: boolean): Promise<Step>;
  /** Input bytes taken since the start. */
  readonly totalIn: number;
  /** Frees the decoder's memory now; further calls do nothing. */
  close(): void;
}

/** The native addon's streaming decoder (lzmaDecoder): steps on libuv's thread pool, 1 MiB of output at most. */
export class AddonDecoder implements StepDecoder {
  totalIn = 0;
  /** zstd: where the frame being read starts. */
  frameStart = 0;
  constructor(
    readonly n: NativeCodecs,
    readonly handle: LzmaDecoderHandle,
  ) {}
  async step(input: Uint8Array, finish: boolean): Promise<Step> {
    const r = await this.n.lzmaDecoderRunAsync!(this.handle, input, finish);
    this.totalIn = r.totalIn;
    this.frameStart = r.frameStart ?? 0;
    return { out: plain(r.out), used: r.used, end: r.end, ...(r.error && { error: r.error }) };
  }
  close(): void {
    this.n.lzmaDecoderEnd!(this.handle);
  }
}

/**
 * Sequential reader of input chunks for decoders that take what they need and leave the rest:
 * absolute offsets, look-ahead across chunks, and a mark to read again from (a second reading of
 * the same stream). Chunks are kept from the mark on only up to a limit of bytes besides the chunk
 * being read; past it the mark is dropped.
 */
export class Feed {
  readonly #it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  /** Chunks from the mark (or the current chunk) on, including any read ahead; the current one is #chunks[#i]. */
  #chunks: Uint8Array[] = [new Uint8Array(0)];
  #i = 0;
  #at = 0;
  #done = false;
  #mark: { at: number; offset: number; limit: number } | undefined;
  /** Absolute offset of the next unread byte. */
  offset = 0;

  constructor(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#it = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  }

  /** The unread rest of the current chunk; empty only at the end of the input. */
  async current(): Promise<Uint8Array> {
    for (;;) {
      const c = this.#chunks[this.#i]!;
      if (this.#at < c.length) return c.subarray(this.#at);
      if (this.#i + 1 >= this.#chunks.length && !(await this.#fetch())) return c.subarray(c.length);
      this.#i++;
      this.#at = 0;
      this.#trim();
    }
  }

  /** True when no input is left. */
  async atEnd(): Promise<boolean> {
    return (await this.current()).length === 0;
  }

  /** Takes `n` bytes of the current chunk (at most what {@link current} returned). */
  advance(n: number): void {
    this.#at += n;
    this.offset += n;
  }

  /** Up to `n` bytes from the offset on, without taking them (fewer only at the end of the input). */
  async peek(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let have = 0;
    for (let j = this.#i, at = this.#at; have < n; j++, at = 0) {
      if (j >= this.#chunks.length && !(await this.#fetch())) break;
      const c = this.#chunks[j]!.subarray(at, at + n - have);
      parts.push(c);
      have += c.length;
    }
    return parts.length === 1 ? parts[0]! : concat(parts, have);
  }

  /** Takes zero bytes while they last; returns how many. */
  async skipZeros(): Promise<number> {
    let n = 0;
    for (let c = await this.current(); c.length > 0; c = await this.current()) {
      let k = 0;
      while (k < c.length && c[k] === 0) k++;
      this.advance(k);
      n += k;
      if (k < c.length) break;
    }
    return n;
  }

  /** Takes `n` bytes (by default all that are left); returns how many there were. */
  async skip(n = Number.POSITIVE_INFINITY): Promise<number> {
    let taken = 0;
    for (let c = await this.current(); c.length > 0 && taken < n; c = await this.current()) {
      const k = Math.min(c.length, n - taken);
      this.advance(k);
      taken += k;
    }
    return taken;
  }

  /**
   * Keeps what is read from here on, so that {@link rewind} can come back; but only while the
   * chunks kept before the current one hold at most `limit` bytes.
   */
  mark(limit = Number.POSITIVE_INFINITY): void {
    this.#mark = undefined;
    this.#trim();
    this.#mark = { at: this.#at, offset: this.offset, limit };
  }

  /** Goes back to the mark, which stays; false (and nowhere) when it was dropped past its limit. */
  rewind(): boolean {
    if (!this.#mark) return false;
    this.#i = 0;
    this.#at = this.#mark.at;
    this.offset = this.#mark.offset;
    return true;
  }

  /** Appends the next chunk of the input to #chunks; false at its end. */
  async #fetch(): Promise<boolean> {
    if (this.#done) return false;
    const r = await this.#it.next();
    if (r.done) this.#done = true;
    else this.#chunks.push(r.value);
    return !r.done;
  }

  /** Drops the chunks before the current one unless a mark (within its limit) needs them. */
  #trim(): void {
    if (this.#mark) {
      let kept = -this.#mark.at;
      for (let j = 0; j < this.#i; j++) kept += this.#chunks[j]!.length;
      if (kept <= this.#mark.limit) return;
      this.#mark = undefined;
    }
    if (this.#i > 0) {
      this.#chunks = this.#chunks.slice(this.#i);
      this.#i = 0;
    }
  }
}

/**
 * Runs one stream through `dec`: `prefix` first (a header the caller rewrote), then input from
 * `feed`, which is left at the first byte after the stream. Output pieces are yielded as the
 * decoder makes them; a failure becomes `mapError(error)` once the output before it has been
 * yielded. The decoder is closed when the stream ends, fails, or the consumer stops.
 */
export async function* stepThrough(
  dec: StepDecoder,
  feed: Feed,
  mapError: ErrorMapper,
  prefix: Uint8Array = new Uint8Array(0),
): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      const fromPrefix = prefix.length > 0;
      const input = fromPrefix ? prefix : await feed.current();
      const r = await dec.step(input, !fromPrefix && input.length === 0);
      if (fromPrefix) prefix = prefix.subarray(r.used);
      else feed.advance(r.used);
      if (r.out.length > 0) yield r.out;
      if (r.error !== undefined) throw mapError(r.error);
      if (r.end) return;
    }
  } finally {
    dec.close();
  }
}
