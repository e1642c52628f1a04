import type { Payload } from '../bytes/payload.js';

/** How the 32-byte id of a v0–v2 header is obtained: given bytes, or computed from the blobs. */
export type IdSpec = Uint8Array | 'sha1' | 'sha256';

/**
 * An Android boot image (magic "ANDROID!"), header v0–v4 (v4 without kernel is an init_boot.img).
 * Fixed-size text fields are raw bytes (NUL padding need not be included). `P` is the payload
 * type: bytes when decoded from memory, streams when opened from a file or built from files.
 */
export interface BootImage<P extends Payload = Uint8Array> {
  readonly kind: 'boot';
  /** 0–4. */
  headerVersion: number;
  /** v0–v2: from the header; v3/v4: always 4096. */
  pageSize: number;
  kernelAddr: number;
  ramdiskAddr: number;
  secondAddr: number;
  tagsAddr: number;
  /** v2 only. */
  dtbAddr: number;
  /** The packed os_version field (see layout.ts packOsVersion). */
  osVersion: number;
  /** v0–v2: ≤ 16 bytes. */
  name: Uint8Array;
  /** v0–v2: ≤ 512 bytes; v3/v4: ≤ 1536 bytes. */
  cmdline: Uint8Array;
  /** v0–v2: ≤ 1024 bytes. */
  extraCmdline: Uint8Array;
  /** v0–v2. */
  id: IdSpec;
  /** v3/v4: reserved[4], normally zero. */
  reserved: Uint8Array;
  /** The header_size field (v1+); undefined writes the value AOSP writes for the version. */
  headerSize?: number | undefined;
  /** v1/v2 recovery_dtbo_offset field; undefined computes it as AOSP does. */
  recoveryDtboOffset?: number | undefined;
  kernel: P;
  ramdisk: P;
  second: P;
  /** Legacy v0 QCDT/Exynos dt.img (osm0sis `--dt`): its size is stored in the header_version word. */
  dt: P;
  /** v1/v2. */
  recoveryDtbo: P;
  /** v2. */
  dtb: P;
  /** v4 boot signature. */
  signature: P;
  /** Bytes after the last padded section: AVB footer, SEANDROIDENFORCE, partition padding. */
  tail: P;
  /** When the file ends inside the last section's padding: how many padding bytes it has. */
  finalPadding?: number | undefined;
}

export interface VendorRamdisk<P extends Payload = Uint8Array> {
  data: P;
  /** VENDOR_RAMDISK_TYPE; v4 only. */
  type: number;
  /** ≤ 32 bytes; v4 only. */
  name: Uint8Array;
  /** 16 values; v4 only. */
  boardId: readonly number[];
  /** Offset in the ramdisk section, when the section is given as a whole. */
  offset?: number | undefined;
}

/** An Android vendor_boot image (magic "VNDRBOOT"), header v3 or v4. */
export interface VendorBootImage<P extends Payload = Uint8Array> {
  readonly kind: 'vendor_boot';
  headerVersion: number;
  pageSize: number;
  kernelAddr: number;
  ramdiskAddr: number;
  tagsAddr: number;
  dtbAddr: number;
  /** ≤ 2048 bytes. */
  cmdline: Uint8Array;
  /** ≤ 16 bytes. */
  name: Uint8Array;
  headerSize?: number | undefined;
  /** v3: exactly one. v4: the ramdisk table, in order. */
  ramdisks: VendorRamdisk<P>[];
  /**
   * The whole vendor ramdisk section, when the table does not simply cover it in order
   * (then each ramdisk's `offset` locates it and the section is written as it is).
   */
  ramdiskSection?: P | undefined;
  dtb: P;
  /** v4. */
  bootconfig: P;
  tail: P;
  /** v4 table entry size field; undefined writes 108. */
  tableEntrySize?: number | undefined;
  finalPadding?: number | undefined;
}

export type AndroidImage<P extends Payload = Uint8Array> = BootImage<P> | VendorBootImage<P>;
