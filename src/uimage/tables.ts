/**
 * The os / arch / type / comp enums of U-Boot images, with the names mkimage accepts (`-O -A -T -C`)
 * and prints (`-l`). Shared by the legacy header and, later, FIT (whose `os`, `arch`, `type` and
 * `compression` properties use the same short names).
 *
 * Source: U-Boot v2023.01 include/image.h (numeric values, frozen ABI: "New IDs *MUST* be appended")
 * and boot/image.c `uimage_{arch,os,type,comp}[]` (names, as built into the host tools, USE_HOSTCC).
 * The table order is U-Boot's: a value with two names (7 = "powerpc", "ppc") prints its first.
 * Values that are in the enum but not in a table (os 13 lynxos, 19 artos, 20 unity; arch 13 nios,
 * 18 st200; type 22 loadable) have no name: mkimage neither accepts nor names them, and prints
 * "Unknown …" for them, as `genimg_get_*_name()` does.
 */

export interface TableEntry {
  readonly id: number;
  /** Short name: what `-A/-O/-T/-C` take (case-insensitively) and FIT properties hold. */
  readonly name: string;
  /** Long name: what `mkimage -l` prints. */
  readonly long: string;
}

export type Category = 'arch' | 'os' | 'type' | 'comp';

const t = (id: number, name: string, long: string): TableEntry => ({ id, name, long });

/** IH_ARCH_*: boot/image.c uimage_arch[]. */
export const ARCH_TABLE: readonly TableEntry[] = [
  t(0, 'invalid', 'Invalid ARCH'),
  t(1, 'alpha', 'Alpha'),
  t(2, 'arm', 'ARM'),
  t(3, 'x86', 'Intel x86'), // IH_ARCH_I386
  t(4, 'ia64', 'IA64'),
  t(12, 'm68k', 'M68K'),
  t(14, 'microblaze', 'MicroBlaze'),
  t(5, 'mips', 'MIPS'),
  t(6, 'mips64', 'MIPS 64 Bit'),
  t(15, 'nios2', 'NIOS II'),
  t(7, 'powerpc', 'PowerPC'),
  t(7, 'ppc', 'PowerPC'),
  t(8, 's390', 'IBM S390'),
  t(9, 'sh', 'SuperH'),
  t(10, 'sparc', 'SPARC'),
  t(11, 'sparc64', 'SPARC 64 Bit'),
  t(16, 'blackfin', 'Blackfin'),
  t(17, 'avr32', 'AVR32'),
  t(20, 'nds32', 'NDS32'),
  t(21, 'or1k', 'OpenRISC 1000'), // IH_ARCH_OPENRISC
  t(19, 'sandbox', 'Sandbox'),
  t(22, 'arm64', 'AArch64'),
  t(23, 'arc', 'ARC'),
  t(24, 'x86_64', 'AMD x86_64'),
  t(25, 'xtensa', 'Xtensa'),
  t(26, 'riscv', 'RISC-V'),
];

/** IH_OS_*: boot/image.c uimage_os[] (host build: every entry). */
export const OS_TABLE: readonly TableEntry[] = [
  t(0, 'invalid', 'Invalid OS'),
  t(25, 'arm-trusted-firmware', 'ARM Trusted Firmware'),
  t(5, 'linux', 'Linux'),
  t(2, 'netbsd', 'NetBSD'),
  t(22, 'ose', 'Enea OSE'),
  t(23, 'plan9', 'Plan 9'),
  t(18, 'rtems', 'RTEMS'),
  t(26, 'tee', 'Trusted Execution Environment'),
  t(17, 'u-boot', 'U-Boot'),
  t(14, 'vxworks', 'VxWorks'),
  t(16, 'qnx', 'QNX'),
  t(21, 'integrity', 'INTEGRITY'),
  t(4, '4_4bsd', '4_4BSD'),
  t(11, 'dell', 'Dell'),
  t(7, 'esix', 'Esix'),
  t(3, 'freebsd', 'FreeBSD'),
  t(9, 'irix', 'Irix'),
  t(12, 'ncr', 'NCR'),
  t(1, 'openbsd', 'OpenBSD'),
  t(15, 'psos', 'pSOS'),
  t(10, 'sco', 'SCO'),
  t(8, 'solaris', 'Solaris'),
  t(6, 'svr4', 'SVR4'),
  t(24, 'openrtos', 'OpenRTOS'),
  t(27, 'opensbi', 'RISC-V OpenSBI'),
  t(28, 'efi', 'EFI Firmware'),
];

/** IH_TYPE_*: boot/image.c uimage_type[]. */
export const TYPE_TABLE: readonly TableEntry[] = [
  t(13, 'aisimage', 'Davinci AIS image'),
  t(7, 'filesystem', 'Filesystem Image'),
  t(5, 'firmware', 'Firmware'),
  t(8, 'flat_dt', 'Flat Device Tree'),
  t(17, 'gpimage', 'TI Keystone SPL Image'),
  t(2, 'kernel', 'Kernel Image'),
  t(14, 'kernel_noload', 'Kernel Image (no loading done)'),
  t(9, 'kwbimage', 'Kirkwood Boot Image'),
  t(10, 'imximage', 'Freescale i.MX Boot Image'),
  t(38, 'imx8image', 'NXP i.MX8 Boot Image'),
  t(37, 'imx8mimage', 'NXP i.MX8M Boot Image'),
  t(0, 'invalid', 'Invalid Image'),
  t(4, 'multi', 'Multi-File Image'),
  t(12, 'omapimage', 'TI OMAP SPL With GP CH'),
  t(15, 'pblimage', 'Freescale PBL Boot Image'),
  t(3, 'ramdisk', 'RAMDisk Image'),
  t(6, 'script', 'Script'),
  t(19, 'socfpgaimage', 'Altera SoCFPGA CV/AV preloader'),
  t(35, 'socfpgaimage_v1', 'Altera SoCFPGA A10 preloader'),
  t(1, 'standalone', 'Standalone Program'),
  t(11, 'ublimage', 'Davinci UBL image'),
  t(16, 'mxsimage', 'Freescale MXS Boot Image'),
  t(18, 'atmelimage', 'ATMEL ROM-Boot Image'),
  t(20, 'x86_setup', 'x86 setup.bin'),
  t(21, 'lpc32xximage', 'LPC32XX Boot Image'),
  t(23, 'rkimage', 'Rockchip Boot Image'),
  t(24, 'rksd', 'Rockchip SD Boot Image'),
  t(25, 'rkspi', 'Rockchip SPI Boot Image'),
  t(30, 'vybridimage', 'Vybrid Boot Image'),
  t(26, 'zynqimage', 'Xilinx Zynq Boot Image'),
  t(27, 'zynqmpimage', 'Xilinx ZynqMP Boot Image'),
  t(28, 'zynqmpbif', 'Xilinx ZynqMP Boot Image (bif)'),
  t(29, 'fpga', 'FPGA Image'),
  t(31, 'tee', 'Trusted Execution Environment Image'),
  t(32, 'firmware_ivt', 'Firmware with HABv4 IVT'),
  t(33, 'pmmc', 'TI Power Management Micro-Controller Firmware'),
  t(34, 'stm32image', 'STMicroelectronics STM32 Image'),
  t(36, 'mtk_image', 'MediaTek BootROM loadable Image'),
  t(39, 'copro', 'Coprocessor Image'),
  t(40, 'sunxi_egon', 'Allwinner eGON Boot Image'),
  t(41, 'sunxi_toc0', 'Allwinner TOC0 Boot Image'),
];

/** IH_COMP_*: boot/image.c uimage_comp[]. */
export const COMP_TABLE: readonly TableEntry[] = [
  t(0, 'none', 'uncompressed'),
  t(2, 'bzip2', 'bzip2 compressed'),
  t(1, 'gzip', 'gzip compressed'),
  t(3, 'lzma', 'lzma compressed'),
  t(4, 'lzo', 'lzo compressed'),
  t(5, 'lz4', 'lz4 compressed'),
  t(6, 'zstd', 'zstd compressed'),
];

export const TABLES: Readonly<Record<Category, readonly TableEntry[]>> = { arch: ARCH_TABLE, os: OS_TABLE, type: TYPE_TABLE, comp: COMP_TABLE };

/** `genimg_get_*_name()`'s fallback for a value with no table entry. */
const UNKNOWN: Readonly<Record<Category, string>> = {
  arch: 'Unknown Architecture',
  os: 'Unknown OS',
  type: 'Unknown Image',
  comp: 'Unknown Compression',
};

/** The value of a short name (case-insensitive, as U-Boot's strcasecmp), or undefined. */
export function idOf(category: Category, name: string): number | undefined {
  const lower = name.toLowerCase();
  return TABLES[category].find((e) => e.name.toLowerCase() === lower)?.id;
}

/** The short name of a value (the first in table order), or undefined when U-Boot has none. */
export function nameOf(category: Category, id: number): string | undefined {
  return TABLES[category].find((e) => e.id === id)?.name;
}

/** The long name `mkimage -l` prints, "Unknown …" for a value without a table entry. */
export function longNameOf(category: Category, id: number): string {
  return TABLES[category].find((e) => e.id === id)?.long ?? UNKNOWN[category];
}

/** Named header values (src/uimage/layout.ts uses these; so can callers). */
export const IH_OS_LINUX = 5;
export const IH_OS_TEE = 26;
export const IH_ARCH_PPC = 7;
export const IH_TYPE_INVALID = 0;
export const IH_TYPE_KERNEL = 2;
export const IH_TYPE_MULTI = 4;
export const IH_TYPE_SCRIPT = 6;
export const IH_TYPE_FLATDT = 8;
export const IH_TYPE_KERNEL_NOLOAD = 14;
export const IH_TYPE_FIRMWARE_IVT = 32;
export const IH_COMP_NONE = 0;
export const IH_COMP_GZIP = 1;

