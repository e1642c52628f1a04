/**
 * Codec lookup. Every implementation is loaded with a dynamic `import()` on first use, so importing
 * this module (or detect.ts) loads no compressor: the CLI starts without lzma-native's native
 * binding or zstd's WebAssembly unless a command actually needs them.
 */
import { FormatError } from '../bytes/errors.js';
import { detectCompression, type CompressionId } from './detect.js';
import type { Codec, DecodeOptions, EncodeOptions } from './types.js';

const loaders: Readonly<Record<CompressionId, () => Promise<Codec>>> = {
  gzip: () => import('./gzip.js').then((m) => m.codec),
  zlib: () => import('./zlib.js').then((m) => m.codec),
  xz: () => import('./xz.js').then((m) => m.codec),
  lzma: () => import('./lzma.js').then((m) => m.codec),
  zstd: () => import('./zstd.js').then((m) => m.codec),
  lz4: () => import('./lz4.js').then((m) => m.lz4),
  'lz4-legacy': () => import('./lz4.js').then((m) => m.lz4Legacy),
  bzip2: () => import('./bzip2.js').then((m) => m.codec),
  lzo: () => import('./lzo.js').then((m) => m.codec),
};

const loaded = new Map<CompressionId, Promise<Codec>>();

/**
 * The codec for `id`, loading its implementation on first use. Rejects with a TypeError for an
 * unknown id; a dependency that fails to load (no prebuilt binding for this platform) rejects with
 * its own error, and the next call tries again.
 *
 * @example
 * ```ts
 * const gzip = await getCodec('gzip');
 * const bytes = await gzip.decode(packed);
 * ```
 */
export function getCodec(id: CompressionId): Promise<Codec> {
  const load = Object.hasOwn(loaders, id) ? loaders[id] : undefined;
  if (!load) return Promise.reject(new TypeError(`Cannot get codec: unknown compression "${String(id)}"`));
  let codec = loaded.get(id);
  if (!codec) {
    codec = load();
    loaded.set(id, codec);
    codec.catch(() => loaded.delete(id));
  }
  return codec;
}

/**
 * Detects the compression of `bytes` from its magic and decodes it. Input with no known magic is a
 * FormatError (format `codec`, code BAD_MAGIC); bad input in a detected format is a FormatError whose
 * format is the codec id.
 *
 * @example
 * ```ts
 * const kernel = await decompress(await readFile('Image.gz'), { maxOutput: 256 << 20 });
 * ```
 */
export async function decompress(bytes: Uint8Array, opts?: DecodeOptions): Promise<Uint8Array> {
  const id = detectCompression(bytes.subarray(0, 16));
  if (id === undefined) throw new FormatError('codec', 'BAD_MAGIC', 0, 'Cannot detect compression: no known magic');
  return (await getCodec(id)).decode(bytes, opts);
}

/**
 * Compresses `bytes` into one `id` stream. A codec without an encoder (lzo) is a TypeError.
 *
 * @example
 * ```ts
 * const ramdisk = await compress(cpio, 'lz4-legacy', { level: 12 });
 * ```
 */
export async function compress(bytes: Uint8Array, id: CompressionId, opts?: EncodeOptions): Promise<Uint8Array> {
  const codec = await getCodec(id);
  if (!codec.encode) throw new TypeError(`Cannot compress: no encoder for ${id}`);
  return codec.encode(bytes, opts);
}
