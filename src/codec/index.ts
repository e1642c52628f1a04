export { detectCompression, type CompressionId } from './detect.js';
export type { Codec, DecodeOptions, EncodeOptions, XzCheck, XzBcj } from './types.js';
export { getCodec, compress, decompress } from './registry.js';
