/**
 * .xz (tukaani.org/xz/xz-file-format.txt) via liblzma. Concatenated streams and stream padding are
 * accepted, as `xz -d` does. Encoding writes one stream with one LZMA2 block (optionally behind a
 * BCJ filter) and, by default, a CRC32 check: the Linux kernel's xz_dec (lib/xz) supports only
 * none/CRC32 unless built with CRC64 (scripts/xz_wrap.sh passes --check=crc32).
 */
import { FormatError } from '../bytes/errors.js';
import { collect } from '../bytes/source.js';
import { Budget, codecError } from './pipe.js';
import { checkDictSize, decodeWith, encodeWith, IGNORE_CHECK, memlimitFor, native, open, presetOptions } from './liblzma.js';
import { levelOf, maxOutputOf, type Codec, type EncodeOptions, type XzBcj, type XzCheck } from './types.js';

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] as const;

const CHECKS: Readonly<Record<XzCheck, number>> = {
  none: native.CHECK_NONE,
  crc32: native.CHECK_CRC32,
  crc64: native.CHECK_CRC64,
  sha256: native.CHECK_SHA256,
};

const BCJ: Readonly<Record<XzBcj, string>> = {
  x86: 'LZMA_FILTER_X86',
  powerpc: 'LZMA_FILTER_POWERPC',
  ia64: 'LZMA_FILTER_IA64',
  arm: 'LZMA_FILTER_ARM',
  armthumb: 'LZMA_FILTER_ARMTHUMB',
  sparc: 'LZMA_FILTER_SPARC',
};

const decoder = (maxOutput: number, flags = 0) => open((s) => s.streamDecoder({ memlimit: memlimitFor(maxOutput), flags }));

function encoder(opts: EncodeOptions | undefined) {
  const level = levelOf(opts, 0, 9, 6);
  const x = opts?.xz;
  const check = x?.check ?? 'crc32';
  if (!Object.hasOwn(CHECKS, check)) throw new RangeError(`Cannot encode: unknown xz check "${String(check)}"`);
  if (x?.bcj !== undefined && !Object.hasOwn(BCJ, x.bcj)) throw new RangeError(`Cannot encode: unknown BCJ filter "${String(x.bcj)}"`);
  const lzma2 = { ...presetOptions(level), ...(x?.dictSize !== undefined && { dictSize: checkDictSize(x.dictSize) }) };
  const filters = [...(x?.bcj ? [{ id: BCJ[x.bcj] }] : []), { id: 'LZMA_FILTER_LZMA2', options: lzma2 }];
  return open((s) => s.streamEncoder_(filters, CHECKS[check]));
}

export const codec: Codec = {
  id: 'xz',
  async decode(input, opts) {
    const max = maxOutputOf(opts);
    if (input.length < MAGIC.length) throw codecError('xz', 'TRUNCATED', 0, 'Cannot parse xz stream header: need 12 bytes');
    if (!MAGIC.every((m, i) => input[i] === m)) throw codecError('xz', 'BAD_MAGIC', 0, 'Cannot parse xz stream header: magic is not fd "7zXZ" 00');
    try {
      return await collect(decodeWith('xz', decoder(max), [input], new Budget('xz', max)));
    } catch (e) {
      // liblzma reports a wrong check as LZMA_DATA_ERROR, like any corruption. If the stream decodes
      // once the check is ignored, the check was the only problem.
      if (!(e instanceof FormatError) || e.code !== 'BAD_FIELD') throw e;
      try {
        await collect(decodeWith('xz', decoder(max, IGNORE_CHECK), [input], new Budget('xz', max)));
      } catch {
        throw e;
      }
      throw codecError('xz', 'BAD_CHECKSUM', e.offset, 'Cannot decode xz stream: the check of a block does not match its data', e);
    }
  },
  async encode(input, opts) {
    return collect(encodeWith(encoder(opts), [input]));
  },
  async *decodeStream(chunks, opts) {
    const max = maxOutputOf(opts);
    yield* decodeWith('xz', decoder(max), chunks, new Budget('xz', max));
  },
  async *encodeStream(chunks, opts) {
    yield* encodeWith(encoder(opts), chunks);
  },
};
