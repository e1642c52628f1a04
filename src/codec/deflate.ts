/**
 * DEFLATE with a gzip (RFC 1952) or zlib (RFC 1950) wrapper, for gzip.ts and zlib.ts. Uses node:zlib,
 * and falls back to pako (pure JS, same zlib algorithm) where node:zlib cannot be imported
 * (browsers, some edge runtimes).
 *
 * Trailing bytes: gzip members may be concatenated (RFC 1952 §2.2; `gzip -d` and the kernel's
 * initramfs unpacker accept that). After the last member or zlib stream only zero bytes may follow
 * (block padding); anything else is BAD_FIELD at the first byte past the stream, also when it is
 * not a gzip member at all (zlib reads it as the next member's header: the members are walked
 * again to find where they end). Both backends and any chunking give the same answer.
 */
import { FormatError } from '../bytes/errors.js';
import { collect, concat } from '../bytes/source.js';
import { Budget, codecError, plain, throughTransform, within } from './pipe.js';

export type Wrapper = 'gzip' | 'zlib';

/** One implementation of DEFLATE; every method throws FormatError (format = wrapper) for bad input. */
export interface DeflateBackend {
  readonly name: 'node:zlib' | 'pako';
  inflate(wrapper: Wrapper, input: Uint8Array, maxOutput: number): Promise<Uint8Array>;
  /**
   * As `inflate`, on the calling thread: the same bytes, or a FormatError. For input that is bad
   * in two ways at once (cut short and decoding past `maxOutput`), node:zlib may name the other one.
   */
  inflateSync(wrapper: Wrapper, input: Uint8Array, maxOutput: number): Uint8Array;
  deflate(wrapper: Wrapper, input: Uint8Array, level: number): Promise<Uint8Array>;
  inflateStream(wrapper: Wrapper, chunks: AsyncIterable<Uint8Array>, maxOutput: number): AsyncGenerator<Uint8Array>;
  deflateStream(wrapper: Wrapper, chunks: AsyncIterable<Uint8Array>, level: number): AsyncGenerator<Uint8Array>;
}

let loaded: Promise<DeflateBackend> | undefined;

/** node:zlib when it can be imported, else pako. Loaded once, on first use. */
export function deflateBackend(): Promise<DeflateBackend> {
  return (loaded ??= Promise.all([import('node:zlib'), import('node:buffer')]).then(
    ([zlib, buffer]) => nodeBackend(zlib, buffer.constants.MAX_LENGTH),
    () => pakoBackend(),
  ));
}

/**
 * Maps a zlib failure (node:zlib `code`/`message`, or pako `err`/`msg`) to a FormatError. zlib's
 * messages are stable: "incorrect data check" (CRC-32 / Adler-32), "incorrect length check" (ISIZE),
 * "unexpected end of file" / "buffer error" (truncated).
 */
export function zlibError(wrapper: Wrapper, error: unknown, offset: number, end: number): FormatError {
  if (error instanceof FormatError) return error;
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' || typeof e?.code === 'number' ? e.code : undefined;
  const msg = typeof e?.message === 'string' ? e.message : String(error);
  if (code === 'ERR_BUFFER_TOO_LARGE') return codecError(wrapper, 'LIMIT', offset, 'Cannot decode: output exceeds maxOutput', error);
  if (code === 'Z_BUF_ERROR' || code === -5 || /unexpected end/.test(msg))
    return codecError(wrapper, 'TRUNCATED', end, 'Cannot decode deflate stream: input ends early', error);
  if (/incorrect (data|length) check/.test(msg))
    return codecError(wrapper, 'BAD_CHECKSUM', offset, `Cannot decode deflate stream: "${msg}"`, error);
  if (code === 'Z_NEED_DICT' || code === 2)
    return codecError(wrapper, 'UNSUPPORTED', offset, 'Cannot decode deflate stream: it needs a preset dictionary', error);
  return codecError(wrapper, 'BAD_FIELD', offset, `Cannot decode deflate stream: "${msg}"`, error);
}

/** Size of the trailer (gzip CRC-32 + ISIZE, zlib Adler-32): the best offset for a checksum error. */
const trailer = (w: Wrapper): number => (w === 'gzip' ? 8 : 4);

/** Throws unless every byte of `input` from `end` on is zero. */
function checkTail(wrapper: Wrapper, input: Uint8Array, end: number): void {
  for (let i = end; i < input.length; i++)
    if (input[i] !== 0) throw trailingError(wrapper, i);
}

const trailingError = (wrapper: Wrapper, at: number): FormatError =>
  codecError(wrapper, 'BAD_FIELD', at, 'Cannot decode deflate stream: non-zero bytes follow the end of the stream');

/**
 * Where a run of gzip members ends, when what follows it is neither another member nor zeros, or
 * undefined (a member is bad in itself, or nothing follows): `rawConsumed` gives how many bytes
 * the DEFLATE data at the start of its argument takes, or undefined when it does not decode.
 */
function membersEnd(input: Uint8Array, rawConsumed: (deflate: Uint8Array) => number | undefined): number | undefined {
  let at = 0;
  while (input[at] === 0x1f && input[at + 1] === 0x8b && input[at + 2] === 8) {
    const flg = input[at + 3]!;
    let p = at + 10;
    if (flg & 4) p += 2 + (input[p] ?? 0) + (input[p + 1] ?? 0) * 256; // FEXTRA
    for (const bit of [8, 16]) {
      if (!(flg & bit)) continue; // FNAME, FCOMMENT: zero-terminated
      const z = input.indexOf(0, p);
      if (z < 0) return undefined;
      p = z + 1;
    }
    if (flg & 2) p += 2; // FHCRC
    if (p >= input.length) return undefined;
    const n = rawConsumed(input.subarray(p));
    if (n === undefined) return undefined;
    at = p + n + 8;
  }
  return at > 0 && at < input.length && input[at] !== 0 ? at : undefined;
}

type NodeZlib = typeof import('node:zlib');
type NodeCall = (buf: Uint8Array, opts: object, cb: (err: Error | null, out: unknown) => void) => void;
interface Engine {
  bytesWritten: number;
}

function nodeBackend(zlib: NodeZlib, maxLength: number): DeflateBackend {
  const call = (fn: NodeCall, input: Uint8Array, opts: object): Promise<unknown> =>
    new Promise((resolve, reject) => fn(input, opts, (err, out) => (err ? reject(err) : resolve(out))));
  // maxOutputLength must lie in 1..buffer.constants.MAX_LENGTH; `info` reports the bytes consumed.
  // A known small output (a squashfs block) comes in one chunk, not in 16 KiB pieces, each a round
  // trip to the thread pool.
  const inflateOpts = (maxOutput: number) => ({
    maxOutputLength: Math.min(Math.max(maxOutput, 1), maxLength),
    info: true,
    ...(maxOutput <= 1 << 20 && { chunkSize: Math.max(maxOutput, 64) }),
  });
  // the DEFLATE bytes one raw inflate takes (it stops at the final block and ignores what follows)
  const rawConsumed = (maxOutput: number) => (d: Uint8Array): number | undefined => {
    try {
      return (zlib.inflateRawSync(d, { ...inflateOpts(maxOutput), chunkSize: 64 * 1024 }) as unknown as { engine: Engine }).engine.bytesWritten;
    } catch {
      return undefined;
    }
  };
  const failed = (wrapper: Wrapper, input: Uint8Array, maxOutput: number, e: unknown): FormatError => {
    const error = zlibError(wrapper, e, Math.max(0, input.length - trailer(wrapper)), input.length);
    const end = wrapper === 'gzip' && (error.code === 'BAD_FIELD' || error.code === 'TRUNCATED') ? membersEnd(input, rawConsumed(maxOutput)) : undefined;
    return end === undefined ? error : trailingError(wrapper, end);
  };
  const inflated = (wrapper: Wrapper, input: Uint8Array, maxOutput: number, r: { buffer: Uint8Array; engine: Engine }): Uint8Array => {
    if (r.buffer.length > maxOutput) throw new Budget(wrapper, maxOutput).error();
    checkTail(wrapper, input, r.engine.bytesWritten);
    return plain(r.buffer);
  };
  return {
    name: 'node:zlib',
    async inflate(wrapper, input, maxOutput) {
      let r: { buffer: Uint8Array; engine: Engine };
      try {
        r = (await call(wrapper === 'gzip' ? zlib.gunzip : zlib.inflate, input, inflateOpts(maxOutput))) as typeof r;
      } catch (e) {
        throw failed(wrapper, input, maxOutput, e);
      }
      return inflated(wrapper, input, maxOutput, r);
    },
    inflateSync(wrapper, input, maxOutput) {
      let r: { buffer: Uint8Array; engine: Engine };
      try {
        r = (wrapper === 'gzip' ? zlib.gunzipSync : zlib.inflateSync)(input, inflateOpts(maxOutput)) as unknown as typeof r;
      } catch (e) {
        throw failed(wrapper, input, maxOutput, e);
      }
      return inflated(wrapper, input, maxOutput, r);
    },
    async deflate(wrapper, input, level) {
      return plain((await call(wrapper === 'gzip' ? zlib.gzip : zlib.deflate, input, { level })) as Uint8Array);
    },
    async *inflateStream(wrapper, chunks, maxOutput) {
      const t = wrapper === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
      let fed = 0;
      let lastNonZero = -1; // absolute offset of the last non-zero input byte
      async function* watched(): AsyncGenerator<Uint8Array> {
        for await (const c of chunks) {
          for (let i = c.length - 1; i >= 0; i--)
            if (c[i] !== 0) {
              lastNonZero = fed + i;
              break;
            }
          fed += c.length;
          yield c;
        }
      }
      const out = throughTransform(t, watched(), (e) => zlibError(wrapper, e, t.bytesWritten, fed));
      yield* within(out, new Budget(wrapper, maxOutput));
      if (lastNonZero >= t.bytesWritten) throw trailingError(wrapper, t.bytesWritten);
    },
    async *deflateStream(wrapper, chunks, level) {
      const t = wrapper === 'gzip' ? zlib.createGzip({ level }) : zlib.createDeflate({ level });
      yield* throughTransform(t, chunks, (e) => e as Error);
    },
  };
}

/**
 * The pure-JS backend. Exported so tests can exercise it where node:zlib exists. pako is synchronous,
 * so streaming gathers the input first (pako's own chunked mode drops a gzip member that starts
 * exactly at a chunk boundary).
 */
export async function pakoBackend(): Promise<DeflateBackend> {
  const pako = await import('pako');
  const windowBits = (w: Wrapper): number => (w === 'gzip' ? 16 + 15 : 15);
  // the DEFLATE bytes one raw inflate takes; its output is counted, not kept
  const rawConsumed = (maxOutput: number) => (d: Uint8Array): number | undefined => {
    const raw = new pako.Inflate({ raw: true });
    const budget = new Budget('gzip', maxOutput);
    raw.onData = (chunk) => budget.take(chunk.length);
    try {
      raw.push(d, true);
    } catch {
      return undefined;
    }
    return raw.err ? undefined : (raw as unknown as { strm?: { next_in?: number } }).strm?.next_in;
  };

  function inflate(wrapper: Wrapper, input: Uint8Array, maxOutput: number): Uint8Array {
    const budget = new Budget(wrapper, maxOutput);
    const inf = new pako.Inflate({ windowBits: windowBits(wrapper) });
    const parts: Uint8Array[] = [];
    inf.onData = (chunk) => {
      budget.take(chunk.length);
      parts.push(chunk);
    };
    inf.push(input, true);
    if (inf.err) {
      const error = zlibError(wrapper, { code: inf.err, message: inf.msg }, Math.max(0, input.length - trailer(wrapper)), input.length);
      const end = wrapper === 'gzip' && (error.code === 'BAD_FIELD' || error.code === 'TRUNCATED') ? membersEnd(input, rawConsumed(maxOutput)) : undefined;
      throw end === undefined ? error : trailingError(wrapper, end);
    }
    // pako stops at the end of a zlib stream and ignores the rest. The input went in as one push, so
    // next_in is what it consumed (total_in restarts with each gzip member).
    const consumed = (inf as unknown as { strm?: { next_in?: number } }).strm?.next_in;
    checkTail(wrapper, input, consumed ?? input.length);
    return parts.length === 1 ? parts[0]! : concat(parts);
  }

  return {
    name: 'pako',
    async inflate(wrapper, input, maxOutput) {
      return inflate(wrapper, input, maxOutput);
    },
    inflateSync: inflate,
    async deflate(wrapper, input, level) {
      return wrapper === 'gzip' ? pako.gzip(input, { level: level as 6 }) : pako.deflate(input, { level: level as 6 });
    },
    async *inflateStream(wrapper, chunks, maxOutput) {
      yield inflate(wrapper, await collect(chunks), maxOutput);
    },
    async *deflateStream(wrapper, chunks, level) {
      const def = new pako.Deflate({ level: level as 6, windowBits: windowBits(wrapper) });
      let out: Uint8Array[] = [];
      def.onData = (c) => out.push(c);
      const flush = (): Uint8Array[] => {
        const produced = out;
        out = [];
        return produced;
      };
      for await (const chunk of chunks) {
        def.push(chunk, false);
        yield* flush();
      }
      def.push(new Uint8Array(0), true);
      yield* flush();
    },
  };
}
