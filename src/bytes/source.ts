import { FormatError } from './errors.js';

const EMPTY = new Uint8Array(0);

/**
 * Sequential async reader over chunks (Node Readable, WHATWG ReadableStream, generators).
 * Chunks must not be mutated after they are yielded.
 */
export class ByteSource {
  readonly #it: AsyncIterator<Uint8Array>;
  #chunk: Uint8Array = EMPTY;
  #at = 0;
  #done = false;
  /** Absolute offset of the next unread byte. */
  position = 0;
  constructor(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, readonly format: string) {
    this.#it = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : toAsync(input[Symbol.iterator]());
  }

  /** Exactly n bytes. Zero-copy when they lie inside the current chunk; otherwise gathered into a new buffer. */
  async read(n: number, what: string): Promise<Uint8Array> {
    if (this.#chunk.length - this.#at >= n) return this.#take(n);
    const out = new Uint8Array(n);
    for (let filled = 0; filled < n; ) {
      if (this.#at === this.#chunk.length && !(await this.#pull()))
        throw new FormatError(this.format, 'TRUNCATED', this.position, `Cannot read ${what}: input ended ${n - filled} bytes early`);
      const part = this.#take(Math.min(n - filled, this.#chunk.length - this.#at));
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /** The next n bytes as zero-copy subarrays of the input chunks, for bodies that are only passed on. */
  async *body(n: number, what: string): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.#at === this.#chunk.length && !(await this.#pull()))
        throw new FormatError(this.format, 'TRUNCATED', this.position, `Cannot read ${what}: input ended ${left} bytes early`);
      const part = this.#take(Math.min(left, this.#chunk.length - this.#at));
      left -= part.length;
      yield part;
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.body(n, what));
  }

  /** Up to n bytes; fewer only at the end of the input. */
  async readUpTo(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < n) {
      if (this.#at === this.#chunk.length && !(await this.#pull())) break;
      const part = this.#take(Math.min(n - got, this.#chunk.length - this.#at));
      parts.push(part);
      got += part.length;
    }
    return parts.length === 1 ? parts[0]! : concat(parts, got);
  }

  /** Everything that is left, chunk by chunk. */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.#at === this.#chunk.length && !(await this.#pull())) return;
      yield this.#take(this.#chunk.length - this.#at);
    }
  }

  async atEnd(): Promise<boolean> {
    return this.#at === this.#chunk.length && !(await this.#pull());
  }

  #take(n: number): Uint8Array {
    const out = this.#chunk.subarray(this.#at, this.#at + n);
    this.#at += n;
    this.position += n;
    return out;
  }

  async #pull(): Promise<boolean> {
    while (!this.#done) {
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        break;
      }
      if (r.value.length === 0) continue;
      this.#chunk = r.value;
      this.#at = 0;
      return true;
    }
    this.#chunk = EMPTY;
    this.#at = 0;
    return false;
  }
}

async function* toAsync<T>(it: Iterator<T>): AsyncGenerator<T> {
  for (let r = it.next(); !r.done; r = it.next()) yield r.value;
}

/** Concatenates chunks into one new buffer. */
export function concat(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Collects an async iterable of chunks into one buffer. */
export async function collect(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return parts.length === 1 ? parts[0]! : concat(parts);
}
