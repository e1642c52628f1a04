/**
 * gzip (RFC 1952): magic 1f 8b, DEFLATE, CRC-32 + ISIZE trailer. Members may be concatenated.
 * Encoding is deterministic: MTIME 0, no file name, OS 3 (Unix), as `gzip -n`.
 */
import { deflateBackend } from './deflate.js';
import { codecError } from './pipe.js';
import { levelOf, maxOutputOf, type Codec } from './types.js';

export const codec: Codec = {
  id: 'gzip',
  async decode(input, opts) {
    const max = maxOutputOf(opts);
    if (input.length < 2 || input[0] !== 0x1f || input[1] !== 0x8b)
      throw codecError('gzip', input.length < 2 ? 'TRUNCATED' : 'BAD_MAGIC', 0, 'Cannot parse gzip header: magic is not 1f 8b');
    return (await deflateBackend()).inflate('gzip', input, max);
  },
  async encode(input, opts) {
    return (await deflateBackend()).deflate('gzip', input, levelOf(opts, 0, 9, 6));
  },
  async *decodeStream(chunks, opts) {
    const max = maxOutputOf(opts);
    yield* (await deflateBackend()).inflateStream('gzip', chunks, max);
  },
  async *encodeStream(chunks, opts) {
    const level = levelOf(opts, 0, 9, 6);
    yield* (await deflateBackend()).deflateStream('gzip', chunks, level);
  },
};
