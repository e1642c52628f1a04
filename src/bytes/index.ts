export { FormatError, isFormatError, type FormatErrorCode } from './errors.js';
export { limit, padding, alignUp, DEFAULT_MAX_ALLOC } from './limits.js';
export { ByteCursor } from './cursor.js';
export { ByteSource, concat, collect } from './source.js';
export { type RandomAccess, bytesAccess, fileAccess, handleAccess, rangeChunks } from './random.js';
export {
  type ByteSink, type MemorySink, type OutputFile,
  padTo, writeZeros, pipeInto, memorySink, handleSink, createOutputFile, withOutputFile, writeFileAtomic,
} from './sink.js';
export { struct, type Struct, type Shape, type Value, type FieldKind } from './struct.js';
export { crc32, crc32Js, crc32IsNative } from './crc32.js';
export { type Payload, type StreamPayload, EMPTY, payloadSize, payloadChunks, payloadHead, filePayload, rangePayload, payloadBytes } from './payload.js';
