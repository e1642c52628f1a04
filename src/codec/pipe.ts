/**
 * Plumbing shared by the codecs: the output budget (decompression-bomb guard), error wrapping, and an
 * adapter from a Node-style Transform (node:zlib, lzma-native) to an async iterable.
 */
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';

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
