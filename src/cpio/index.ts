export {
  NEWC_MAGIC, CRC_MAGIC, HEADER_SIZE, TRAILER, BLOCK, PATH_MAX, S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO,
  decodeHeader, encodeHeader, decodeName, encodeName, byteSum, entrySize, modeString, type CpioHeader, type CpioFormat,
} from './layout.js';
export { decodeCpio, readCpio, type CpioEntry, type CpioRecord, type CpioStreamEntry, type ReadOptions } from './read.js';
export { encodeCpio, writeCpio, normalizeName, type CpioItem, type WriteOptions } from './write.js';
export { walkTree, pathItems, listTree, splitDev, type FsLike, type StatLike, type TreeOptions } from './tree.js';
export { parseSpec, formatSpec, SpecError, type SpecOptions } from './spec.js';
export { pigz, type PigzOptions } from './pigz.js';
export {
  walkInitramfs, compressStream, COMPRESSIONS, DEFAULT_LEVEL, INITRAMFS_DICT,
  type InitramfsCompression, type CompressOptions, type Segment, type WalkOptions,
} from './initramfs.js';
export { extractRecords, extractSegments, findFile, safeComponents, type ExtractOptions } from './extract.js';
export { longLine, listDate, type LongOptions } from './list.js';
