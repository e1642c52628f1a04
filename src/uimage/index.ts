/** U-Boot images: the legacy uImage and FIT (Flattened Image Tree). Exports only. */
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
export { FORMAT as FIT_FORMAT, MKIMAGE_VERSION, EXTERNAL_ALIGN, parseSigAlgo } from './fit-layout.js';
export { HASH_ALGOS, fitHasher, hashPayload, hashBytes, type FitHasher } from './fit-hash.js';
export { findRegions, regionBytes, blocksOf, type Region, type BlobBlocks } from './fit-regions.js';
export { FitSignError, loadSigningKey, signData, verifyData, controlKeys, type FitSigningKey, type ControlKey } from './fit-sign.js';
export { buildFit, writeFit, encodeFit, FitBuildError, type FitInput, type FitBuildOptions, type BuiltFit } from './fit-write.js';
export { fitFromIts, fitFromSpec, type FitSpec, type FitImageSpec, type FitConfigSpec } from './fit-model.js';
export { fitAuto, encodeSequential, type FitAutoOptions } from './fit-auto.js';
export {
  openFit, imageByName, type OpenedFit, type FitImage, type FitConfig, type FitHash, type FitSignature, type FitReadOptions,
} from './fit-read.js';
export { verifyFit, type FitVerification, type HashCheck, type SignatureCheck, type VerifyOptions } from './fit-verify.js';
export { formatFitListing, fitJson } from './fit-text.js';
