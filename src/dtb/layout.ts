/**
 * Flattened device tree (DTB) layout: Devicetree Specification v0.4 chapter 5, dtc `libfdt/fdt.h`
 * and `flattree.c` (dtc 1.6.1). All integers big-endian.
 *
 * ```
 * 0x00 +---------------------------+
 *      | fdt_header (40 bytes v17, |
 *      |   36 bytes v16)           |
 *      +---------------------------+ off_mem_rsvmap (8-aligned)
 *      | memreserve entries        |  {u64 address, u64 size}* then {0, 0}
 *      +---------------------------+ off_dt_struct
 *      | structure block           |  FDT_BEGIN_NODE name\0 pad4 | FDT_PROP len nameoff value pad4
 *      |                           |  | FDT_END_NODE | FDT_NOP ... FDT_END
 *      +---------------------------+ off_dt_strings
 *      | strings block             |  property names, NUL-terminated, shared by suffix
 *      +---------------------------+ off_dt_strings + size_dt_strings
 *      | free space / padding      |  (dtc -p / -S / -a)
 *      +---------------------------+ totalsize
 * ```
 */
import { struct } from '../bytes/struct.js';

export const FORMAT = 'fdt';

/** libfdt/fdt.h FDT_MAGIC. */
export const FDT_MAGIC = 0xd00d_feed;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;

/** Size of one memory reservation entry (two u64). */
export const RESERVE_ENTRY_SIZE = 16;
export const FDT_V17_SIZE = 40;
export const FDT_V16_SIZE = 36;

export const FdtHeader = struct(FORMAT, 'fdt header', {
  magic: 'u32be', //           0x00 magic: FDT_MAGIC
  totalSize: 'u32be', //       0x04 totalsize: bytes of the whole blob, free space included
  offDtStruct: 'u32be', //     0x08 off_dt_struct: structure block offset
  offDtStrings: 'u32be', //    0x0c off_dt_strings: strings block offset
  offMemRsvmap: 'u32be', //    0x10 off_mem_rsvmap: memory reservation block offset
  version: 'u32be', //         0x14 version: 17 (dtc default) or 16
  lastCompVersion: 'u32be', // 0x18 last_comp_version: 16
  bootCpuidPhys: 'u32be', //   0x1c boot_cpuid_phys: physical id of the boot CPU (v2+)
  sizeDtStrings: 'u32be', //   0x20 size_dt_strings: strings block length (v3+)
  sizeDtStruct: 'u32be', //    0x24 size_dt_struct: structure block length (v17+)
});
export type FdtHeader = ReturnType<typeof FdtHeader.decode>;

/**
 * dtc's version table (flattree.c): header size and which fields exist. Versions 1–3 also write full
 * paths as node names, align values of 8+ bytes to 8, and add a `name` property to every node.
 */
export interface VersionInfo {
  readonly version: number;
  readonly lastCompVersion: number;
  readonly headerSize: number;
  readonly legacy: boolean; // FTF_FULLPATH | FTF_VARALIGN | FTF_NAMEPROPS
}
export const VERSIONS: readonly VersionInfo[] = [
  { version: 1, lastCompVersion: 1, headerSize: 28, legacy: true },
  { version: 2, lastCompVersion: 1, headerSize: 32, legacy: true },
  { version: 3, lastCompVersion: 1, headerSize: 36, legacy: true },
  { version: 16, lastCompVersion: 16, headerSize: FDT_V16_SIZE, legacy: false },
  { version: 17, lastCompVersion: 16, headerSize: FDT_V17_SIZE, legacy: false },
];

/** Bytes to add to `n` to reach a multiple of 4 (structure block tokens and values). */
export const pad4 = (n: number): number => (4 - (n % 4)) % 4;
