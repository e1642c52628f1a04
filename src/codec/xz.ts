/**
 * .xz (tukaani.org/xz/xz-file-format.txt) via liblzma. Concatenated streams and stream padding are
 * accepted, as `xz -d` does. Encoding writes one stream with one LZMA2 block (optionally behind a
 * BCJ filter) and, by default, a CRC32 check: the Linux kernel's xz_dec (lib/xz) supports only
 * none/CRC32 unless built with CRC64 (scripts/xz_wrap.sh passes --check=crc32).
 *
 * Decoding runs one stream at a time and reads what lies between streams itself, as `xz -d` does:
 * stream padding (zero bytes, a multiple of 4; format §2.2), then another stream or the end. Other
 * bytes there are BAD_FIELD at the first of them. The output comes in pieces as the consumer asks
 * for them (at most 1 MiB each from the native addon, a few MiB from lzma-native), so `decodeStream`
 * of a stream that expands a thousandfold takes about as much memory as its consumer holds.
 */
import { FormatError } from '../bytes/errors.js';
import { collect } from '../bytes/source.js';
import { Budget, codecError, Feed, stepThrough } from './pipe.js';
import { checkDictSize, encodeWith, IGNORE_CHECK, lzmaError, lzmaNative, memlimitFor, open, openDecoder, presetOptions } from './liblzma.js';
import { levelOf, maxOutputOf, type Codec, type EncodeOptions, type XzBcj, type XzCheck } from './types.js';

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] as const;

/** lzma-native's check ids (lzma_check), for its encoder. */
const CHECKS = { none: 'CHECK_NONE', crc32: 'CHECK_CRC32', crc64: 'CHECK_CRC64', sha256: 'CHECK_SHA256' } as const satisfies Readonly<Record<XzCheck, string>>;

const BCJ: Readonly<Record<XzBcj, string>> = {
  x86: 'LZMA_FILTER_X86',
  powerpc: 'LZMA_FILTER_POWERPC',
  ia64: 'LZMA_FILTER_IA64',
  arm: 'LZMA_FILTER_ARM',
  armthumb: 'LZMA_FILTER_ARMTHUMB',
  sparc: 'LZMA_FILTER_SPARC',
};

/** Compressed input decodeStream keeps, beyond the chunk being read, to read a failed stream again (see `decodeStreams`). */
const REREAD_LIMIT = 16 * 2 ** 20;

/**
 * The output of every stream in `chunks`, piece by piece, within `max` bytes. liblzma reports a
 * wrong check as LZMA_DATA_ERROR, like any corruption: a stream that fails so is read again from
 * its start with the check ignored (when its input is still at hand: all of it for a whole buffer,
 * up to REREAD_LIMIT otherwise), and if it then decodes to its end, the check was the only problem.
 */
async function* decodeStreams(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, max: number, rereadLimit: number): AsyncGenerator<Uint8Array> {
  const feed = new Feed(chunks);
  const budget = new Budget('xz', max);
  for (let first = true; ; first = false) {
    if (!first) {
      const padding = feed.offset;
      const zeros = await feed.skipZeros();
      if (zeros % 4 !== 0)
        throw codecError('xz', 'BAD_FIELD', padding, `Cannot decode xz stream: ${zeros} bytes of stream padding, not a multiple of 4`);
      if (await feed.atEnd()) return;
    }
    const start = feed.offset;
    const head = await feed.peek(MAGIC.length);
    if (first && head.length < MAGIC.length) throw codecError('xz', 'TRUNCATED', start, 'Cannot parse xz stream header: need 12 bytes');
    if (first && !MAGIC.every((m, i) => head[i] === m)) throw codecError('xz', 'BAD_MAGIC', start, 'Cannot parse xz stream header: magic is not fd "7zXZ" 00');
    if (!MAGIC.every((m, i) => head[i] === m || i >= head.length))
      throw codecError('xz', 'BAD_FIELD', start, 'Cannot decode xz stream: the bytes after a stream are neither stream padding nor another stream');
    if (head.length < MAGIC.length) throw codecError('xz', 'TRUNCATED', start + head.length, 'Cannot parse xz stream header: input ends early');
    feed.mark(rereadLimit);
    const dec = openDecoder('xz', memlimitFor(max), 0);
    try {
      for await (const piece of stepThrough(dec, feed, (e) => lzmaError('xz', e, start + dec.totalIn))) {
        budget.take(piece.length);
        yield piece;
      }
    } catch (e) {
      if (!(e instanceof FormatError) || e.code !== 'BAD_FIELD' || !feed.rewind()) throw e;
      if (!(await decodesIgnoringCheck(feed, start, max))) throw e;
      throw codecError('xz', 'BAD_CHECKSUM', e.offset, 'Cannot decode xz stream: the check of a block does not match its data', e);
    }
  }
}

/** Whether the stream at the feed's position decodes to its end with LZMA_IGNORE_CHECK (the output is counted, not kept). */
async function decodesIgnoringCheck(feed: Feed, start: number, max: number): Promise<boolean> {
  const dec = openDecoder('xz', memlimitFor(max), IGNORE_CHECK);
  const budget = new Budget('xz', max);
  try {
    for await (const piece of stepThrough(dec, feed, (e) => lzmaError('xz', e, start + dec.totalIn))) budget.take(piece.length);
    return true;
  } catch {
    return false;
  }
}

function encoder(opts: EncodeOptions | undefined) {
  const level = levelOf(opts, 0, 9, 6);
  const x = opts?.xz;
  const check = x?.check ?? 'crc32';
  if (!Object.hasOwn(CHECKS, check)) throw new RangeError(`Cannot encode: unknown xz check "${String(check)}"`);
  if (x?.bcj !== undefined && !Object.hasOwn(BCJ, x.bcj)) throw new RangeError(`Cannot encode: unknown BCJ filter "${String(x.bcj)}"`);
  const lzma2 = { ...presetOptions(level), ...(x?.dictSize !== undefined && { dictSize: checkDictSize(x.dictSize) }) };
  const filters = [...(x?.bcj ? [{ id: BCJ[x.bcj] }] : []), { id: 'LZMA_FILTER_LZMA2', options: lzma2 }];
  return open((s) => s.streamEncoder_(filters, lzmaNative()[CHECKS[check]]));
}

export const codec: Codec = {
  id: 'xz',
  async decode(input, opts) {
    return collect(decodeStreams([input], maxOutputOf(opts), Number.POSITIVE_INFINITY));
  },
  async encode(input, opts) {
    return collect(encodeWith(encoder(opts), [input]));
  },
  async *decodeStream(chunks, opts) {
    yield* decodeStreams(chunks, maxOutputOf(opts), REREAD_LIMIT);
  },
  async *encodeStream(chunks, opts) {
    yield* encodeWith(encoder(opts), chunks);
  },
};
