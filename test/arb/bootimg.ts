/** fast-check models of boot and vendor_boot images. */
import fc from 'fast-check';
import type { BootImage, VendorBootImage } from '../../src/bootimg/model.js';

const E = new Uint8Array(0);
const u32 = fc.nat({ max: 0xffff_ffff });
/** Blob sizes around page boundaries matter most. */
const blob = (max = 5000) =>
  fc.oneof(
    fc.constant(E),
    fc.uint8Array({ minLength: 1, maxLength: 3 }),
    fc.integer({ min: 1, max: max }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) % 256)),
  );
const nonEmpty = (max = 3000) => fc.integer({ min: 1, max }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 17 + 3) % 256));
const text = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => b.map((x) => (x % 95) + 32));
const page = fc.constantFrom(2048, 4096, 8192, 16384);

export const bootImageV0V2: fc.Arbitrary<BootImage> = fc
  .record({
    headerVersion: fc.constantFrom(0, 1, 2),
    pageSize: page,
    kernelAddr: u32, ramdiskAddr: u32, secondAddr: u32, tagsAddr: u32,
    dtbAddr: fc.maxSafeNat(),
    osVersion: u32,
    name: text(16), cmdline: text(512), extraCmdline: text(1024),
    kernel: blob(), ramdisk: blob(), second: blob(), recoveryDtbo: blob(), dtb: blob(), dt: blob(),
    idKind: fc.constantFrom('sha1', 'sha256', 'raw'),
    rawId: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    tail: fc.oneof(fc.constant(E), fc.uint8Array({ minLength: 1, maxLength: 300 })),
  })
  .map((r) => ({
    kind: 'boot' as const,
    headerVersion: r.headerVersion,
    pageSize: r.pageSize,
    kernelAddr: r.kernelAddr, ramdiskAddr: r.ramdiskAddr, secondAddr: r.secondAddr, tagsAddr: r.tagsAddr,
    dtbAddr: r.headerVersion === 2 ? r.dtbAddr : 0,
    osVersion: r.osVersion,
    name: r.name, cmdline: r.cmdline, extraCmdline: r.extraCmdline,
    id: r.idKind === 'raw' ? r.rawId : (r.idKind as 'sha1' | 'sha256'),
    reserved: E,
    kernel: r.kernel, ramdisk: r.ramdisk, second: r.second,
    // a legacy dt must be larger than 4 bytes to be told apart from a header version
    dt: r.headerVersion === 0 && r.dt.length > 4 ? r.dt : E,
    recoveryDtbo: r.headerVersion >= 1 ? r.recoveryDtbo : E,
    dtb: r.headerVersion === 2 ? r.dtb : E,
    signature: E,
    tail: r.tail,
  }));

export const bootImageV3V4: fc.Arbitrary<BootImage> = fc
  .record({
    headerVersion: fc.constantFrom(3, 4),
    osVersion: u32,
    cmdline: text(1536),
    reserved: fc.oneof(fc.constant(new Uint8Array(16)), fc.uint8Array({ minLength: 16, maxLength: 16 })),
    kernel: blob(9000), ramdisk: blob(9000), signature: blob(),
    tail: fc.oneof(fc.constant(E), fc.uint8Array({ minLength: 1, maxLength: 300 })),
  })
  .map((r) => ({
    kind: 'boot' as const,
    headerVersion: r.headerVersion,
    pageSize: 4096,
    kernelAddr: 0, ramdiskAddr: 0, secondAddr: 0, tagsAddr: 0, dtbAddr: 0,
    osVersion: r.osVersion,
    name: E, cmdline: r.cmdline, extraCmdline: E, id: E, reserved: r.reserved,
    kernel: r.kernel, ramdisk: r.ramdisk, second: E, dt: E, recoveryDtbo: E, dtb: E,
    signature: r.headerVersion === 4 ? r.signature : E,
    tail: r.tail,
  }));

const ramdiskEntry = fc.record({
  data: blob(3000),
  type: fc.nat({ max: 3 }),
  name: text(31),
  boardId: fc.array(u32, { minLength: 16, maxLength: 16 }),
});

export const vendorBootImage: fc.Arbitrary<VendorBootImage> = fc
  .record({
    headerVersion: fc.constantFrom(3, 4),
    pageSize: page,
    kernelAddr: u32, ramdiskAddr: u32, tagsAddr: u32, dtbAddr: fc.maxSafeNat(),
    cmdline: text(2048), name: text(16),
    ramdisks: fc.array(ramdiskEntry, { minLength: 1, maxLength: 4 }),
    dtb: blob(), bootconfig: blob(500),
    tail: fc.oneof(fc.constant(E), fc.uint8Array({ minLength: 1, maxLength: 300 })),
  })
  .map((r) => ({
    kind: 'vendor_boot' as const,
    headerVersion: r.headerVersion,
    pageSize: r.pageSize,
    kernelAddr: r.kernelAddr, ramdiskAddr: r.ramdiskAddr, tagsAddr: r.tagsAddr, dtbAddr: r.dtbAddr,
    cmdline: r.cmdline, name: r.name,
    ramdisks: r.headerVersion === 3 ? r.ramdisks.slice(0, 1) : r.ramdisks,
    dtb: r.dtb,
    bootconfig: r.headerVersion === 4 ? r.bootconfig : E,
    tail: r.tail,
  }));

export const androidImage = fc.oneof(bootImageV0V2, bootImageV3V4, vendorBootImage);
export { nonEmpty };
