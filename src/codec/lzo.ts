/**
 * lzop (.lzo) is recognized by detect.ts (magic 89 "LZO" 00 0d 0a 1a 0a) so that tools can name it,
 * but not decoded: neither Android nor U-Boot images in use here carry it. Decoding reports
 * UNSUPPORTED rather than guessing.
 */
import { codecError } from './pipe.js';
import { maxOutputOf, type Codec } from './types.js';

export const codec: Codec = {
  id: 'lzo',
  async decode(_input, opts) {
    maxOutputOf(opts);
    throw codecError('lzo', 'UNSUPPORTED', 0, 'Cannot decode lzop stream: lzo decoding is not implemented');
  },
};
