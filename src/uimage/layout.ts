/**
 * U-Boot legacy image ("uImage"): a 64-byte big-endian header, then the data.
 * Source: U-Boot v2023.01 include/image.h `struct legacy_img_hdr` (called image_header_t before 2022.10),
 * tools/default_image.c (image_set_header, image_verify_header), tools/mkimage.c (multi-file layout).
 *
 *   0x00 ┌──────────────────────────────┐
 *        │ header, 64 bytes             │ hcrc = CRC-32 of these 64 bytes with hcrc = 0
 *   0x40 ├──────────────────────────────┤ ─┐
 *        │ data, ih_size bytes          │  │ dcrc = CRC-32 of the ih_size data bytes
 *        └──────────────────────────────┘ ─┘
 *
 * Multi-file (IH_TYPE_MULTI) and script (IH_TYPE_SCRIPT) images start their data with a size table:
 *
 *   0x40  be32 size[0] … be32 size[n-1]  be32 0      table, terminated by a 0 entry
 *         part 0, zero-padded to 4 bytes
 *         …
 *         part n-1, not padded (the image ends with it)
 *
 * A script (boot.scr) is a one-part "multi" image: be32 len, be32 0, text.
 */
import { struct } from '../bytes/struct.js';
import { padding } from '../bytes/limits.js';

/** include/image.h IH_MAGIC. */
export const IH_MAGIC = 0x2705_1956;
/** include/image.h IH_NMLEN: bytes of ih_name. */
export const IH_NMLEN = 32;
export const HEADER_SIZE = 64;
/** Largest ih_size: the field is 32 bits. */
export const MAX_DATA_SIZE = 0xffff_ffff;

export const LegacyHeader = struct('uimage', 'legacy header', {
  magic: 'u32be', //   0x00 ih_magic: IH_MAGIC
  hcrc: 'u32be', //    0x04 ih_hcrc: CRC-32 of the 64 header bytes with this field 0
  time: 'u32be', //    0x08 ih_time: seconds since 1970 (mkimage: SOURCE_DATE_EPOCH, else the output's mtime)
  size: 'u32be', //    0x0c ih_size: data bytes after the header
  load: 'u32be', //    0x10 ih_load: load address
  ep: 'u32be', //      0x14 ih_ep: entry point
  dcrc: 'u32be', //    0x18 ih_dcrc: CRC-32 of the ih_size data bytes
  os: 'u8', //         0x1c ih_os: IH_OS_* (tables.ts)
  arch: 'u8', //       0x1d ih_arch: IH_ARCH_*
  type: 'u8', //       0x1e ih_type: IH_TYPE_*
  comp: 'u8', //       0x1f ih_comp: IH_COMP_*
  name: { bytes: IH_NMLEN }, // 0x20 ih_name: NUL-padded; not NUL-terminated when 32 bytes long
});
export type LegacyHeader = ReturnType<typeof LegacyHeader.decode>;

/** Offsets of the header fields, for error messages and patching. */
export const OFF = LegacyHeader.offsets;

/** Bytes of the size table of a multi/script image with `parts` parts (the 0 terminator included). */
export function multiTableSize(parts: number): number {
  return 4 * (parts + 1);
}

/**
 * Where each part of a multi/script image starts, relative to the start of the data (the table
 * included), as U-Boot's image_multi_getimg(): every part but the last is rounded up to 4 bytes.
 */
export function multiOffsets(sizes: readonly number[]): number[] {
  const out: number[] = [];
  let at = multiTableSize(sizes.length);
  for (const s of sizes) {
    out.push(at);
    at += s + padding(s, 4);
  }
  return out;
}

/** ih_size of a multi/script image whose parts have these sizes: table, padded parts, last part unpadded. */
export function multiDataSize(sizes: readonly number[]): number {
  if (sizes.length === 0) return multiTableSize(0);
  const last = sizes[sizes.length - 1]!;
  return multiOffsets(sizes)[sizes.length - 1]! + last;
}

/** ih_name bytes as mkimage's image_set_name() stores them: UTF-8, cut at 32 bytes, NUL-padded. */
export function encodeName(name: string | Uint8Array): Uint8Array {
  const bytes = typeof name === 'string' ? new TextEncoder().encode(name) : name;
  const nul = bytes.indexOf(0);
  const cut = bytes.subarray(0, Math.min(nul < 0 ? bytes.length : nul, IH_NMLEN));
  const out = new Uint8Array(IH_NMLEN);
  out.set(cut);
  return out;
}

/** The name as printed by `mkimage -l` ("%.*s": up to the first NUL, at most 32 bytes), bytes kept as Latin-1-safe UTF-8. */
export function nameBytes(name: Uint8Array): Uint8Array {
  const nul = name.indexOf(0);
  return name.subarray(0, nul < 0 ? Math.min(name.length, IH_NMLEN) : Math.min(nul, IH_NMLEN));
}

/**
 * i.MX HABv4 "firmware_ivt" images (tools/mkimage.c, IH_TYPE_FIRMWARE_IVT): after the data, mkimage
 * pads the file to a 4 KiB boundary (pad byte i = file offset i & 0xff) and appends a 32-byte IVT
 * (flash_header_v2_t, host little-endian); ih_size then counts a CSF area that is not in the file:
 * ih_size = file size - 64 + 0x2060 - 32.
 */
export const IVT_SIZE = 32;
export const IVT_CSF_EXTRA = 0x2060 - IVT_SIZE;
export const IVT_ALIGN = 0x1000;

/** OP-TEE header (include/tee/optee.h struct optee_header, 28 bytes, host little-endian) at the start of `-O tee` data. */
export const OPTEE_HEADER_SIZE = 28;
/** Offset of init_load_addr_lo in struct optee_header: mkimage takes the entry point from it. */
export const OPTEE_INIT_LOAD_ADDR_LO = 16;
