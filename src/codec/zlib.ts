/**
 * zlib (RFC 1950): a 2-byte header (CMF, FLG with FCHECK), DEFLATE, Adler-32 trailer. Used inside
 * squashfs and FIT images. A preset dictionary (FDICT) is UNSUPPORTED.
 */
import { deflateBackend } from './deflate.js';
import { codecError } from './pipe.js';
import { levelOf, maxOutputOf, type Codec } from './types.js';

// loaded with this module, so that decodeSync has it
const backend = await deflateBackend();

function checkHeader(input: Uint8Array): void {
  if (input.length < 2) throw codecError('zlib', 'TRUNCATED', 0, 'Cannot parse zlib header: need 2 bytes');
  if ((input[0]! & 0x0f) !== 8 || (input[0]! * 256 + input[1]!) % 31 !== 0)
    throw codecError('zlib', 'BAD_MAGIC', 0, 'Cannot parse zlib header: not DEFLATE, or FCHECK is wrong');
}

export const codec: Codec = {
  id: 'zlib',
  async decode(input, opts) {
    const max = maxOutputOf(opts);
    checkHeader(input);
    return backend.inflate('zlib', input, max);
  },
  decodeSync(input, opts) {
    const max = maxOutputOf(opts);
    checkHeader(input);
    return backend.inflateSync('zlib', input, max);
  },
  async encode(input, opts) {
    return backend.deflate('zlib', input, levelOf(opts, 0, 9, 6));
  },
  async *decodeStream(chunks, opts) {
    const max = maxOutputOf(opts);
    yield* backend.inflateStream('zlib', chunks, max);
  },
  async *encodeStream(chunks, opts) {
    const level = levelOf(opts, 0, 9, 6);
    yield* backend.deflateStream('zlib', chunks, level);
  },
};
