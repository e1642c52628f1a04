/**
 * Android boot image layouts: boot.img (header v0–v4), vendor_boot.img (v3, v4), init_boot.img
 * (a v4 boot image without kernel). Source: AOSP system/tools/mkbootimg include/bootimg/bootimg.h
 * (BSD-3-Clause since 2024). All integers little-endian.
 *
 * ```
 * v0–v2 (page = page_size)           v3/v4 (page = 4096)          vendor_boot v3/v4 (page = page_size)
 * +-------------------------+        +--------------------+       +---------------------------+
 * | header        1 page    |        | header    1 page   |       | header  pages(2112|2128)  |
 * | kernel        pages(k)  |        | kernel    pages(k) |       | vendor ramdisk section    |
 * | ramdisk       pages(r)  |        | ramdisk   pages(r) |       | dtb                       |
 * | second        pages(s)  |        | v4 boot signature  |       | v4: ramdisk table         |
 * | v0 legacy dt  pages(dt) |        +--------------------+       | v4: bootconfig            |
 * | recovery_dtbo (v1+)     |                                     +---------------------------+
 * | dtb           (v2)      |
 * +-------------------------+        anything after the last section is the tail (AVB footer,
 *                                    SEANDROIDENFORCE, padding to the partition size)
 * ```
 * The word at 0x28 is `header_version` in every ANDROID! header; in legacy v0 images a value
 * above 4 is the size of a QCDT/Exynos `dt` section (osm0sis/CAF mkbootimg `--dt`).
 */
import { struct } from '../bytes/struct.js';
import { padding } from '../bytes/limits.js';
import type { Payload } from '../bytes/payload.js';
import type { BootImage } from './model.js';

export const BOOT_MAGIC = 'ANDROID!';
export const VENDOR_BOOT_MAGIC = 'VNDRBOOT';
export const BOOT_NAME_SIZE = 16;
export const BOOT_ARGS_SIZE = 512;
export const BOOT_EXTRA_ARGS_SIZE = 1024;
export const BOOT_ID_SIZE = 32;
export const VENDOR_BOOT_ARGS_SIZE = 2048;
export const VENDOR_RAMDISK_NAME_SIZE = 32;
export const VENDOR_RAMDISK_BOARD_ID_SIZE = 16;

/** Header sizes as AOSP writes them in the header_size field (and as they are laid out). */
export const BOOT_HEADER_V0_SIZE = 1632;
export const BOOT_HEADER_V1_SIZE = 1648;
export const BOOT_HEADER_V2_SIZE = 1660;
export const BOOT_HEADER_V3_SIZE = 1580;
export const BOOT_HEADER_V4_SIZE = 1584;
export const BOOT_HEADER_V3_PAGESIZE = 4096;
export const BOOT_IMAGE_V4_SIGNATURE_SIZE = 4096;
export const VENDOR_BOOT_HEADER_V3_SIZE = 2112;
export const VENDOR_BOOT_HEADER_V4_SIZE = 2128;
export const VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE = 108;

/** Debian mkbootimg 29.0.6 writes these wrong header_size values (fixed in AOSP 9f28439, ba07d6e). */
export const DEBIAN29_BOOT_HEADER_V3_SIZE = 1596;
export const DEBIAN29_VENDOR_BOOT_HEADER_V3_SIZE = 2108;

export const VENDOR_RAMDISK_TYPE = { none: 0, platform: 1, recovery: 2, dlkm: 3 } as const;

/** The offset of header_version in every ANDROID! header. */
export const HEADER_VERSION_OFFSET = 0x28;

/** Page sizes a decoder accepts: powers of two; AOSP writes 2 KiB–16 KiB, osm0sis up to 128 KiB. */
export const MIN_PAGE_SIZE = 512;
export const MAX_PAGE_SIZE = 1 << 20;

/** `struct boot_img_hdr_v0`, 1632 bytes. */
export const BootHeaderV0 = struct('bootimg', 'boot header v0', {
  magic: { bytes: 8 }, //         0x000 magic: "ANDROID!"
  kernelSize: 'u32le', //         0x008 kernel_size: bytes
  kernelAddr: 'u32le', //         0x00c kernel_addr: base + kernel_offset
  ramdiskSize: 'u32le', //        0x010 ramdisk_size
  ramdiskAddr: 'u32le', //        0x014 ramdisk_addr: 0 when there is no ramdisk (AOSP)
  secondSize: 'u32le', //         0x018 second_size
  secondAddr: 'u32le', //         0x01c second_addr: 0 when there is no second (AOSP)
  tagsAddr: 'u32le', //           0x020 tags_addr
  pageSize: 'u32le', //           0x024 page_size
  headerVersion: 'u32le', //      0x028 header_version (legacy: dt_size)
  osVersion: 'u32le', //          0x02c os_version: A<<25 | B<<18 | C<<11 | (Y-2000)<<4 | M
  name: { bytes: BOOT_NAME_SIZE }, //      0x030 name: asciiz board name
  cmdline: { bytes: BOOT_ARGS_SIZE }, //   0x040 cmdline: asciiz
  id: { bytes: BOOT_ID_SIZE }, //          0x240 id: SHA-1 (or SHA-256) of the blobs and their sizes
  extraCmdline: { bytes: BOOT_EXTRA_ARGS_SIZE }, // 0x260 extra_cmdline: continuation of cmdline
});

/** `struct boot_img_hdr_v1` additions, at 0x660. */
export const BootHeaderV1Ext = struct('bootimg', 'boot header v1', {
  recoveryDtboSize: 'u32le', //   0x660 recovery_dtbo_size
  recoveryDtboOffset: 'u64le', // 0x664 recovery_dtbo_offset: absolute file offset, 0 if absent
  headerSize: 'u32le', //         0x66c header_size: 1648 (v1) or 1660 (v2)
});

/** `struct boot_img_hdr_v2` additions, at 0x670. */
export const BootHeaderV2Ext = struct('bootimg', 'boot header v2', {
  dtbSize: 'u32le', //            0x670 dtb_size
  dtbAddr: 'u64le', //            0x674 dtb_addr: base + dtb_offset
});

/** `struct boot_img_hdr_v3`, 1580 bytes; v4 adds signature_size at 0x62c. */
export const BootHeaderV3 = struct('bootimg', 'boot header v3', {
  magic: { bytes: 8 }, //         0x000 magic: "ANDROID!"
  kernelSize: 'u32le', //         0x008 kernel_size
  ramdiskSize: 'u32le', //        0x00c ramdisk_size
  osVersion: 'u32le', //          0x010 os_version
  headerSize: 'u32le', //         0x014 header_size: 1580 (v3), 1584 (v4)
  reserved: { bytes: 16 }, //     0x018 reserved[4]
  headerVersion: 'u32le', //      0x028 header_version: 3 or 4
  cmdline: { bytes: BOOT_ARGS_SIZE + BOOT_EXTRA_ARGS_SIZE }, // 0x02c cmdline: asciiz
});

export const BootHeaderV4Ext = struct('bootimg', 'boot header v4', {
  signatureSize: 'u32le', //      0x62c signature_size: 0, or 4096 with a GKI boot signature
});

/** `struct vendor_boot_img_hdr_v3`, 2112 bytes; v4 adds the ramdisk table and bootconfig fields. */
export const VendorBootHeaderV3 = struct('bootimg', 'vendor boot header v3', {
  magic: { bytes: 8 }, //         0x000 magic: "VNDRBOOT"
  headerVersion: 'u32le', //      0x008 header_version: 3 or 4
  pageSize: 'u32le', //           0x00c page_size
  kernelAddr: 'u32le', //         0x010 kernel_addr
  ramdiskAddr: 'u32le', //        0x014 ramdisk_addr
  vendorRamdiskSize: 'u32le', //  0x018 vendor_ramdisk_size: the whole ramdisk section
  cmdline: { bytes: VENDOR_BOOT_ARGS_SIZE }, // 0x01c cmdline: asciiz vendor cmdline
  tagsAddr: 'u32le', //           0x81c tags_addr
  name: { bytes: BOOT_NAME_SIZE }, // 0x820 name: asciiz board name
  headerSize: 'u32le', //         0x830 header_size: 2112 (v3), 2128 (v4)
  dtbSize: 'u32le', //            0x834 dtb_size
  dtbAddr: 'u64le', //            0x838 dtb_addr
});

export const VendorBootHeaderV4Ext = struct('bootimg', 'vendor boot header v4', {
  tableSize: 'u32le', //          0x840 vendor_ramdisk_table_size: entries × entry size
  tableEntryNum: 'u32le', //      0x844 vendor_ramdisk_table_entry_num
  tableEntrySize: 'u32le', //     0x848 vendor_ramdisk_table_entry_size: 108
  bootconfigSize: 'u32le', //     0x84c bootconfig_size
});

/** `struct vendor_ramdisk_table_entry_v4`, 108 bytes. */
export const VendorRamdiskEntry = struct('bootimg', 'vendor ramdisk table entry', {
  size: 'u32le', //               0x00 ramdisk_size
  offset: 'u32le', //             0x04 ramdisk_offset: from the start of the ramdisk section
  type: 'u32le', //               0x08 ramdisk_type: VENDOR_RAMDISK_TYPE
  name: { bytes: VENDOR_RAMDISK_NAME_SIZE }, // 0x0c ramdisk_name: asciiz
  boardId: { bytes: 4 * VENDOR_RAMDISK_BOARD_ID_SIZE }, // 0x2c board_id[16]: u32 each
});

/** Number of pages `n` bytes occupy. */
export function pages(n: number, page: number): number {
  return Math.ceil(n / page);
}

const sizeOf = (p: Payload): number => (p instanceof Uint8Array ? p.length : p.size);

/** The absolute offset AOSP stores as recovery_dtbo_offset: right after header, kernel, ramdisk and second. */
export function recoveryDtboOffsetOf(img: BootImage<Payload>): number {
  if (sizeOf(img.recoveryDtbo) === 0) return 0;
  const p = img.pageSize;
  return p * (1 + pages(sizeOf(img.kernel), p) + pages(sizeOf(img.ramdisk), p) + pages(sizeOf(img.second), p));
}

/** `n` rounded up to whole pages. */
export function paddedSize(n: number, page: number): number {
  return n + padding(n, page);
}

/** The laid-out size of the boot header struct for a header version (what is written, whatever header_size says). */
export function bootHeaderStructSize(headerVersion: number): number {
  return [BOOT_HEADER_V0_SIZE, BOOT_HEADER_V1_SIZE, BOOT_HEADER_V2_SIZE, BOOT_HEADER_V3_SIZE, BOOT_HEADER_V4_SIZE][headerVersion] ?? BOOT_HEADER_V0_SIZE;
}

export function vendorHeaderStructSize(headerVersion: number): number {
  return headerVersion >= 4 ? VENDOR_BOOT_HEADER_V4_SIZE : VENDOR_BOOT_HEADER_V3_SIZE;
}

/** os_version packing: version A.B.C in the top 21 bits, patch level (Y-2000, M) in the low 11. */
export function packOsVersion(version: readonly [number, number, number] | undefined, patch: readonly [number, number] | undefined): number {
  const v = version ? version[0] * 2 ** 14 + version[1] * 2 ** 7 + version[2] : 0;
  const p = patch ? (patch[0] - 2000) * 16 + patch[1] : 0;
  return v * 2 ** 11 + p;
}

export function unpackOsVersion(field: number): { version: [number, number, number] | undefined; patch: [number, number] | undefined } {
  const v = Math.floor(field / 2 ** 11);
  const p = field % 2 ** 11;
  return {
    version: v ? [Math.floor(v / 2 ** 14), Math.floor(v / 2 ** 7) % 128, v % 128] : undefined,
    patch: p ? [2000 + Math.floor(p / 16), p % 16] : undefined,
  };
}
