/**
 * imgkit's optional native codecs (native/imgkit.c, built at install by scripts/build-native.mjs):
 * the system's zlib, libzstd, liblz4 and liblzma, the libraries mksquashfs links. squashfs pack uses
 * them so its gzip, zstd, lz4 and xz blocks are mksquashfs's bytes; and llistxattr, for xattrs in the
 * kernel's order (mksquashfs's); and streaming xz and lzma decoders whose output comes in bounded
 * pieces. Absent (no compiler or headers at install, or IMGKIT_NATIVE=0 at run time), every
 * caller falls back to node:zlib, WebAssembly zstd, JavaScript lz4 and lzma-native.
 */
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

export interface NativeCodecs {
  /*
   * The asynchronous compressors below that take `into` put their bytes there when they fit and
   * resolve to a view of it (else to a new Buffer); `into` must not be touched until they settle.
   */
  /** Library versions of the codecs present, e.g. `{ zlib: '1.2.13', zstd: '1.5.4', lz4: '1.9.4' }`. */
  codecs: { zlib?: string; zstd?: string; lz4?: string; xz?: string; libdeflate?: string };
  /**
   * One zlib stream: the system zlib's deflateInit2(level, Z_DEFLATED, windowBits, memLevel, strategy)
   * + deflate(Z_FINISH) bytes. `engine` 1 runs zlib; 2 imgkit's deflate (native/zdeflate.c: zlib's
   * bytes, several times faster; levels 4–9, windowBits 15, memLevel 8, the default, filtered (1)
   * or fixed (4) strategy only, else a RangeError); 0, the default, imgkit's where
   * zdeflateUsable(level, strategy), else zlib.
   */
  deflate?(input: Uint8Array, level: number, windowBits: number, memLevel: number, strategy: number, engine?: 0 | 1 | 2): Uint8Array;
  deflateAsync?(input: Uint8Array, level: number, windowBits: number, memLevel: number, strategy: number, engine?: 0 | 1 | 2, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Whether deflate at `level` with `strategy` (default 0; windowBits 15, memLevel 8) runs imgkit's
   * deflate: levels 4–9 and strategies 0, 1 and 4, once it gave this zlib's own bytes for a sample
   * (checked on first use of each), and not with IMGKIT_ZDEFLATE=0.
   */
  zdeflateUsable?(level: number, strategy?: number): boolean;
  /**
   * One zlib stream from libdeflate (libdeflate_zlib_compress) at `level` 1–12: other bytes than
   * zlib's, several times faster than zlib at the same level and about as small or smaller (at level
   * 9 slower than imgkit's deflate, which gives zlib's bytes).
   */
  libdeflate?(input: Uint8Array, level: number): Uint8Array;
  libdeflateAsync?(input: Uint8Array, level: number, into?: Uint8Array): Promise<Uint8Array>;
  /** CRC-32 (zlib's) of `input` continuing from `value`, by libdeflate_crc32; present with libdeflate. */
  crc32?(input: Uint8Array, value?: number): number;
  /** One zstd frame: ZSTD_compressCCtx at `level`. */
  zstd?(input: Uint8Array, level: number): Uint8Array;
  zstdAsync?(input: Uint8Array, level: number, into?: Uint8Array): Promise<Uint8Array>;
  /** One raw lz4 block: LZ4_compress_default, or LZ4_compress_HC at level 12 when `hc` is 1. */
  lz4?(input: Uint8Array, hc: number): Uint8Array;
  lz4Async?(input: Uint8Array, hc: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * One .xz stream as lzma_stream_buffer_encode writes it (CRC32 check): LZMA2 with the options of
   * `preset` (0–9, +256 for extreme) and `dictSize`, lc/lp/pb when not -1, after the BCJ filter
   * with id `bcj` (0: none). Encoder memory is kept for the next call (see trimCaches).
   */
  xz?(input: Uint8Array, preset: number, dictSize: number, lc: number, lp: number, pb: number, bcj: number): Uint8Array;
  xzAsync?(input: Uint8Array, preset: number, dictSize: number, lc: number, lp: number, pb: number, bcj: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * One LZMA-alone (.lzma) stream from lzma_alone_encoder: `xz --format=lzma` with the options of
   * `preset` (0–9, +256 for extreme) and these dictionary size and lc/lp/pb; "unknown size" in the
   * header and an end marker, as xz writes.
   */
  lzmaAlone?(input: Uint8Array, preset: number, dictSize: number, lc: number, lp: number, pb: number): Uint8Array;
  lzmaAloneAsync?(input: Uint8Array, preset: number, dictSize: number, lc: number, lp: number, pb: number): Promise<Uint8Array>;
  /**
   * An .lzma stream from imgkit's own encoder (native/lzenc.c), match finder on a second thread;
   * flags: 1 the real size in the header, 2 an end marker, threads << 8 (0: as many as help).
   */
  lzmaOwnAsync?(input: Uint8Array, preset: number, dictSize: number, lc: number, lp: number, pb: number, flags: number): Promise<Uint8Array>;
  /** An .lzma stream with the real size in its header and no end marker (liblzma 5.4's LZMA1EXT). */
  lzmaSizedAsync?(input: Uint8Array, preset: number, dictSize: number, lc: number, lp: number, pb: number): Promise<Uint8Array>;
  /**
   * Decodes one block on libuv's thread pool: `codec` 1 zlib, 2 zstd, 3 lz4, 4 xz (those whose bits
   * are set in `decoders`), into at most `max` bytes; the input must be exactly one valid stream.
   * With `fd` ≥ 0 the bytes are written there at `position` and the count comes back. Rejects with
   * "the block did not decode", or with an Error carrying `errno` and `syscall: 'write'`.
   */
  decodeAsync?(input: Uint8Array, codec: number, max: number, fd: number, position: number): Promise<Uint8Array | number>;
  /**
   * Copies `length` bytes from `fdIn` at `offsetIn` to `fdOut` at `offsetOut` on libuv's thread
   * pool: copy_file_range(2), or pread/pwrite where the kernel cannot. Resolves to the bytes
   * copied (fewer only when the input ends); a failure rejects with an Error carrying `errno` and `syscall`.
   */
  copyRangeAsync?(fdIn: number, offsetIn: number, fdOut: number, offsetOut: number, length: number): Promise<number>;
  /**
   * Starts reading each named file (names joined by NUL) into the page cache: posix_fadvise
   * WILLNEED on the thread pool, for the files whose first byte is not cached already; files that
   * cannot be opened are passed over. Resolves to the number of files advised.
   */
  prefetchAsync?(paths: string): Promise<number>;
  /**
   * The same copy through a 1 MiB buffer (pread, libdeflate_crc32, pwrite), resolving to the
   * CRC-32 of the bytes (from 0), or -1 when the input ends first; `fdOut` -1 writes nothing.
   * Present when libdeflate is.
   */
  copyCrcAsync?(fdIn: number, offsetIn: number, fdOut: number, offsetOut: number, length: number): Promise<number>;
  /**
   * decodeAsync of the `inLen` bytes at `inPos` of the open file `inFd`, read on the pool thread
   * (the block never comes to JavaScript); a read that fails or comes up short rejects as a block
   * that does not decode.
   */
  decodeFileAsync?(inFd: number, inPos: number, inLen: number, codec: number, max: number, fd: number, position: number): Promise<Uint8Array | number>;
  /**
   * Makes `count` extracted files and symlinks packed in `ops` (their data, owner, mode and times;
   * layout in native/imgkit.c) in one job on libuv's thread pool. Resolves to two numbers per
   * entry: 0 or the errno of the call that failed, and which call (1 open, 2 write, 3 fchown,
   * 4 fchmod, 5 futimens, 6 close, 7 symlink, 8 lchown, 9 utimensat). A file that fails after its
   * open, or a symlink after it is made, is removed again.
   */
  makeEntriesAsync?(ops: Uint8Array, count: number): Promise<Int32Array>;
  /** Bit `1 << codec` for each codec decodeAsync has. */
  decoders?: number;
  /**
   * The listing `squashfs ls [-l]` prints for the image file at `path` (native/sqlist.c), or
   * undefined wherever src/squashfs/list.ts reads the image any other way (errors, compressor
   * options, tables it reads later, a listing past 64 MiB): the command line's fast path.
   */
  squashfsListing?(path: string, long: boolean): Uint8Array | undefined;
  /**
   * A streaming liblzma decoder whose runs give at most 1 MiB of output each. `kind` 0: one .xz
   * stream (lzma_stream_decoder with liblzma's `flags`; the caller reads stream padding and the next
   * stream); 1: an .lzma stream, header included (lzma_alone_decoder); 2: the LZMA1 data after the
   * 13-byte .lzma `header`, of the size it states and with no end marker after it (LZMA1EXT,
   * liblzma 5.4+); 3: zstd frames one after another, skippable ones skipped (libzstd's streaming
   * decoder, `flags` the largest window as a power of two, 0 for 2^27; `memlimit` unused). A
   * decoder that cannot be set up says so from its first run.
   */
  lzmaDecoder?(kind: number, memlimit: number, flags: number, header?: Uint8Array): LzmaDecoderHandle;
  /**
   * Decodes from `input` (`finish`: none follows) until 1 MiB is out, the input is used up, the
   * stream ends or fails. The memory of the decoder goes when the stream ends or fails.
   */
  lzmaDecoderRun?(handle: LzmaDecoderHandle, input: Uint8Array, finish: boolean): LzmaDecoderRun;
  /** lzmaDecoderRun on libuv's thread pool; `input` must stay unchanged, and the handle unused, until it settles. */
  lzmaDecoderRunAsync?(handle: LzmaDecoderHandle, input: Uint8Array, finish: boolean): Promise<LzmaDecoderRun>;
  /** Frees the decoder now (after the run under way, if any). */
  lzmaDecoderEnd?(handle: LzmaDecoderHandle): void;
  /** Bit `1 << kind` for each lzmaDecoder kind this liblzma (and libzstd, kind 3) has. */
  lzmaDecoders?: number;
  /** Frees the zstd contexts, libdeflate compressors and xz encoder memory kept for reuse; call when nothing compresses. */
  trimCaches?(): void;
  /** A file's xattrs (not following a final symlink) in llistxattr's order; [] when none. Throws on other errors. */
  listXattrs?(path: string): [string, Uint8Array][];
  /**
   * A source tree walked as src/squashfs/tree.ts scanSources() walks it (native/scan.h):
   * records, NUL-ended names, symlink targets and xattr names, xattr values and their lengths;
   * undefined where that walk must run instead.
   */
  scanTree?(path: string, hardlinks: boolean, xattrs: boolean): [Float64Array, string, string, string, Uint8Array, Float64Array] | undefined;
  /**
   * glibc's mallopt(M_MMAP_THRESHOLD, bytes): allocations of at least `bytes` are mapped and
   * unmapped each time, never kept in a thread's arena. False where the C library has no mallopt.
   */
  mmapThreshold?(bytes: number): boolean;
  /**
   * At most `n` compression calls (the *Async encoders) run at once from now on, on the addon's
   * own `n` compression workers, which take the calls in order; 0: no limit, calls go to libuv's
   * thread pool. Returns the most that ran at once since the last call without `n`, which leaves
   * the limit and starts that count anew. Use {@link claimCompressSlots}.
   */
  compressSlots?(n?: number): number;
  /** While on, the *Async encoders called from this thread queue their job ahead of those waiting for the workers. */
  compressFirst?(on: boolean): void;
}

/** A native liblzma decoder (an opaque handle; its memory is freed when it is collected, if not before). */
export interface LzmaDecoderHandle {
  readonly __brand: 'LzmaDecoderHandle';
}

/** One run of a native liblzma decoder. */
export interface LzmaDecoderRun {
  /** Output of the run (at most 1 MiB). */
  out: Uint8Array;
  /** Input bytes the run took. */
  used: number;
  /** Input bytes taken since the start. */
  totalIn: number;
  /** The stream ended. */
  end: boolean;
  /**
   * liblzma failed after `out`: an Error whose name is its lzma_ret (LZMA_DATA_ERROR …); for kind 3,
   * named ZSTD_error with libzstd's ZSTD_ErrorCode as `code`.
   */
  error?: Error;
  /** Kind 3: where the frame being read (or the next one) starts in the input. */
  frameStart?: number;
}

let loaded: NativeCodecs | null | undefined;

/** The native codecs, or undefined when the addon is not built or IMGKIT_NATIVE=0. */
export function nativeCodecs(): NativeCodecs | undefined {
  if (loaded === undefined) {
    loaded = null;
    if (process.env.IMGKIT_NATIVE !== '0') {
      try {
        // dist/codec/native.js → native/build/Release (the same from src/ under tsx)
        loaded = createRequire(import.meta.url)('../../native/build/Release/imgkit_native.node') as NativeCodecs;
      } catch {
        // not built: the callers' fallbacks apply
      }
    }
  }
  return loaded ?? undefined;
}

let slotsClaimed = 0;

/**
 * Lets `n` more native compressions run at once for the caller, who keeps more than that many in
 * flight (the limit is the sum of what is claimed; none claimed: no limit). While slots are
 * claimed, the *Async encoders run on that many worker threads of the addon's, each taking the
 * next queued call as it finishes one, on its own core (libuv's pool handed each block from
 * thread to thread and left a core idle in between: real tree, 2 cores, zstd 21.9 → 18.4 s), and
 * no more encoders are allocated than run (a third zstd level-15 compressor beside two costs
 * their caches: 39 → 34 s of CPU). Returns the release (idempotent); false where the addon has no
 * such limit (its compressions then all run at once).
 */
export function claimCompressSlots(n: number): (() => void) | false {
  const set = nativeCodecs()?.compressSlots;
  if (!set || !(n > 0)) return false;
  slotsClaimed += n;
  set(slotsClaimed);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    slotsClaimed -= n;
    set(slotsClaimed);
  };
}

/** Slots claimed and not yet released (0: the addon runs every compression at once). */
export const compressSlotsClaimed = (): number => slotsClaimed;

/**
 * An addon rejection that carries `errno` and `syscall` as the fields of Node's own error for that
 * call (`code`, negative `errno`, Node's message form); undefined for any other error.
 */
export function systemErrorFields(e: unknown): { message: string; code: string; errno: number; syscall: string } | undefined {
  const x = e as { message?: string; errno?: number; syscall?: string };
  if (typeof x?.errno !== 'number' || typeof x.syscall !== 'string') return undefined;
  const code = getSystemErrorName(-x.errno);
  return { message: `${code}: ${String(x.message).toLowerCase()}, ${x.syscall}`, code, errno: -x.errno, syscall: x.syscall };
}

/** The addon's `{ errno, syscall }` rejection as Node's own error for that call; any other error as it is. */
export function asSystemError(e: unknown): unknown {
  const f = systemErrorFields(e);
  return f ? Object.assign(new Error(f.message), f) : e;
}
