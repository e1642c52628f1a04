export type { AndroidImage, BootImage, VendorBootImage, VendorRamdisk, IdSpec } from './model.js';
export {
  BOOT_MAGIC, VENDOR_BOOT_MAGIC, VENDOR_RAMDISK_TYPE, BootHeaderV0, BootHeaderV1Ext, BootHeaderV2Ext, BootHeaderV3, BootHeaderV4Ext,
  VendorBootHeaderV3, VendorBootHeaderV4Ext, VendorRamdiskEntry, packOsVersion, unpackOsVersion, pages,
} from './layout.js';
export { decodeBootImage, openBootImage, bootImageLayout, parseImageLayout, isAndroidImage, type ImageLayout, type Section } from './read.js';
export { encodeBootImage, writeBootImage, computeBootId, recoveryDtboOffsetOf } from './write.js';
export {
  buildBootImage, buildVendorBootImage, splitCmdline, parseOsVersion, parseOsPatchLevel, DEFAULTS,
  type BootImageOptions, type VendorBootOptions, type VendorRamdiskFragment, type Compat,
} from './build.js';
export { inspectImage, checkBootId, describeTail, type ImageReport, type BlobInfo, type TailInfo, type AvbFooter, type IdCheck } from './inspect.js';
export { toManifest, fromManifest, MANIFEST_NAME, MANIFEST_FORMAT, ManifestError, type Manifest } from './manifest.js';
