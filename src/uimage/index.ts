/** U-Boot images: the legacy uImage (FIT joins later in this folder). Exports only. */
export { IH_MAGIC, IH_NMLEN, HEADER_SIZE, LegacyHeader, multiOffsets, multiDataSize, multiTableSize, encodeName } from './layout.js';
export {
  type TableEntry, type Category, ARCH_TABLE, OS_TABLE, TYPE_TABLE, COMP_TABLE, TABLES, idOf, nameOf, longNameOf,
} from './tables.js';
export {
  type LegacyImageSpec, encodeLegacyImage, encodeLegacyHeader, writeLegacyImage, legacyData, legacyDataSize, concatPayloads,
} from './legacy-write.js';
export {
  type LegacyReadOptions, type LegacyPart, type LegacyImageInfo, type OpenedLegacyImage,
  checkLegacyHeader, decodeLegacyImage, openLegacyImage, openLegacyBytes, MultiTableWalker,
} from './legacy-read.js';
export { legacyListingBytes, formatLegacyListing, legacyJson, formatSize, ctimeUtc } from './legacy-text.js';
export { type MkimageOptions, MKIMAGE_DEFAULTS, MkimageError, mkimageSpec, isLegacyType, sourceDateEpoch, splitDataArg, filePayloads } from './mkimage.js';
