import { FormatError } from '../bytes/errors.js';
import { limit } from '../bytes/limits.js';
import { bytesAccess, type RandomAccess } from '../bytes/random.js';
import { rangePayload, type StreamPayload } from '../bytes/payload.js';
import {
  BOOT_HEADER_V3_PAGESIZE, BOOT_MAGIC, BootHeaderV0, BootHeaderV1Ext, BootHeaderV2Ext, BootHeaderV3, BootHeaderV4Ext,
  HEADER_VERSION_OFFSET, MAX_PAGE_SIZE, MIN_PAGE_SIZE, VENDOR_BOOT_MAGIC, VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE,
  VendorBootHeaderV3, VendorBootHeaderV4Ext, VendorRamdiskEntry, bootHeaderStructSize, pages, paddedSize, vendorHeaderStructSize,
} from './layout.js';
import type { AndroidImage, BootImage, VendorBootImage, VendorRamdisk } from './model.js';

const F = 'bootimg';
const EMPTY = new Uint8Array(0);
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const MAGIC = ascii(BOOT_MAGIC);
const VMAGIC = ascii(VENDOR_BOOT_MAGIC);
/** Bytes of the file that hold every header field of every version. */
export const HEAD_BYTES = 4096;

/** One blob of the image: where it is, and which header field gave its size. */
export interface Section {
  readonly name: SectionName;
  readonly offset: number;
  readonly size: number;
  /** Offset of the size field in the header, for error messages. */
  readonly field: number;
}
export type SectionName =
  | 'kernel' | 'ramdisk' | 'second' | 'dt' | 'recovery_dtbo' | 'dtb' | 'boot_signature'
  | 'vendor_ramdisk' | 'vendor_ramdisk_table' | 'bootconfig';

/** The header of an image and where its blobs are: what `openBootImage` reads before any blob. */
export interface ImageLayout {
  /** The image with every payload empty; the payloads are located by `sections`. */
  readonly header: AndroidImage;
  readonly page: number;
  readonly sections: readonly Section[];
  /** Offset of the first byte after the last padded section. */
  readonly end: number;
  readonly fileSize: number;
}

const starts = (b: Uint8Array, m: Uint8Array) => b.length >= m.length && m.every((x, i) => b[i] === x);

/** Whether `head` starts with a boot or vendor_boot magic. */
export function isAndroidImage(head: Uint8Array): boolean {
  return starts(head, MAGIC) || starts(head, VMAGIC);
}

function checkPageSize(v: number, at: number): number {
  if (v < MIN_PAGE_SIZE || v > MAX_PAGE_SIZE || (v & (v - 1)) !== 0)
    throw new FormatError(F, 'BAD_FIELD', at, `Cannot parse page size: ${v} is not a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE}`);
  return v;
}

/** Lays out sections one after another from `start`, each padded to `page`, checking each against the file size. */
function layOut(start: number, page: number, fileSize: number, list: [SectionName, number, number][]): { sections: Section[]; end: number } {
  const sections: Section[] = [];
  let at = start;
  for (const [name, size, field] of list) {
    if (at + size > fileSize)
      throw new FormatError(F, 'TRUNCATED', field, `Cannot read ${name}: ${size} bytes at 0x${at.toString(16)} run past the end of the file (0x${fileSize.toString(16)})`);
    sections.push({ name, offset: at, size, field });
    at += paddedSize(size, page);
  }
  return { sections, end: at };
}

/**
 * Parses the header at the start of `head` (at least the first 4096 bytes, or the whole file if
 * shorter) of a file of `fileSize` bytes, and locates every blob. Nothing past the header is read.
 */
export function parseImageLayout(head: Uint8Array, fileSize: number): ImageLayout {
  if (starts(head, VMAGIC)) return parseVendor(head, fileSize);
  if (!starts(head, MAGIC))
    throw new FormatError(F, 'BAD_MAGIC', 0, `Cannot parse boot image: magic is not "${BOOT_MAGIC}" or "${VENDOR_BOOT_MAGIC}"`);
  if (head.length < HEADER_VERSION_OFFSET + 4) BootHeaderV3.decode(head); // throws TRUNCATED
  const word = new DataView(head.buffer, head.byteOffset + HEADER_VERSION_OFFSET, 4).getUint32(0, true);
  return word === 3 || word === 4 ? parseBootV3(head, fileSize, word) : parseBootV0(head, fileSize, word);
}

function parseBootV0(head: Uint8Array, fileSize: number, word: number): ImageLayout {
  const h = BootHeaderV0.decode(head);
  const page = checkPageSize(h.pageSize, BootHeaderV0.offsets.pageSize);
  // word > 4: a legacy v0 image whose header_version word holds a dt.img size (QCDT/Exynos)
  const headerVersion = word <= 2 ? word : 0;
  const dtSize = word > 4 ? word : 0;
  const v1 = headerVersion >= 1 ? BootHeaderV1Ext.decode(head, 1632) : undefined;
  const v2 = headerVersion >= 2 ? BootHeaderV2Ext.decode(head, 1648) : undefined;
  const list: [SectionName, number, number][] = [
    ['kernel', h.kernelSize, 0x08],
    ['ramdisk', h.ramdiskSize, 0x10],
    ['second', h.secondSize, 0x18],
  ];
  if (dtSize) list.push(['dt', dtSize, HEADER_VERSION_OFFSET]);
  if (v1) list.push(['recovery_dtbo', v1.recoveryDtboSize, 0x660]);
  if (v2) list.push(['dtb', v2.dtbSize, 0x670]);
  const { sections, end } = layOut(page, page, fileSize, list);
  const header: BootImage = {
    kind: 'boot',
    headerVersion,
    pageSize: page,
    kernelAddr: h.kernelAddr,
    ramdiskAddr: h.ramdiskAddr,
    secondAddr: h.secondAddr,
    tagsAddr: h.tagsAddr,
    dtbAddr: v2?.dtbAddr ?? 0,
    osVersion: h.osVersion,
    name: h.name,
    cmdline: h.cmdline,
    extraCmdline: h.extraCmdline,
    id: h.id,
    reserved: EMPTY,
    headerSize: v1?.headerSize,
    recoveryDtboOffset: v1?.recoveryDtboOffset,
    ...emptyPayloads(),
  };
  return { header, page, sections, end, fileSize };
}

function parseBootV3(head: Uint8Array, fileSize: number, version: number): ImageLayout {
  const h = BootHeaderV3.decode(head);
  const v4 = version >= 4 ? BootHeaderV4Ext.decode(head, BootHeaderV3.size) : undefined;
  const page = BOOT_HEADER_V3_PAGESIZE;
  const list: [SectionName, number, number][] = [
    ['kernel', h.kernelSize, 0x08],
    ['ramdisk', h.ramdiskSize, 0x0c],
  ];
  if (v4) list.push(['boot_signature', v4.signatureSize, BootHeaderV3.size]);
  const { sections, end } = layOut(page, page, fileSize, list);
  const header: BootImage = {
    kind: 'boot',
    headerVersion: version,
    pageSize: page,
    kernelAddr: 0,
    ramdiskAddr: 0,
    secondAddr: 0,
    tagsAddr: 0,
    dtbAddr: 0,
    osVersion: h.osVersion,
    name: EMPTY,
    cmdline: h.cmdline,
    extraCmdline: EMPTY,
    id: EMPTY,
    reserved: h.reserved,
    headerSize: h.headerSize,
    ...emptyPayloads(),
  };
  return { header, page, sections, end, fileSize };
}

function parseVendor(head: Uint8Array, fileSize: number): ImageLayout {
  const h = VendorBootHeaderV3.decode(head);
  if (h.headerVersion !== 3 && h.headerVersion !== 4)
    throw new FormatError(F, 'UNSUPPORTED', 0x08, `Cannot parse vendor boot header: version ${h.headerVersion} is not 3 or 4`);
  const page = checkPageSize(h.pageSize, 0x0c);
  const v4 = h.headerVersion === 4 ? VendorBootHeaderV4Ext.decode(head, VendorBootHeaderV3.size) : undefined;
  const list: [SectionName, number, number][] = [
    ['vendor_ramdisk', h.vendorRamdiskSize, 0x18],
    ['dtb', h.dtbSize, 0x834],
  ];
  if (v4) {
    if (v4.tableEntrySize < VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE)
      throw new FormatError(F, 'UNSUPPORTED', 0x848, `Cannot parse vendor ramdisk table: entry size ${v4.tableEntrySize} is below ${VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE}`);
    if (v4.tableEntryNum * v4.tableEntrySize > v4.tableSize)
      throw new FormatError(F, 'BAD_FIELD', 0x844, `Cannot parse vendor ramdisk table: ${v4.tableEntryNum} entries of ${v4.tableEntrySize} bytes do not fit in ${v4.tableSize} bytes`);
    list.push(['vendor_ramdisk_table', v4.tableSize, 0x840], ['bootconfig', v4.bootconfigSize, 0x84c]);
  }
  const start = pages(vendorHeaderStructSize(h.headerVersion), page) * page;
  const { sections, end } = layOut(start, page, fileSize, list);
  const header: VendorBootImage = {
    kind: 'vendor_boot',
    headerVersion: h.headerVersion,
    pageSize: page,
    kernelAddr: h.kernelAddr,
    ramdiskAddr: h.ramdiskAddr,
    tagsAddr: h.tagsAddr,
    dtbAddr: h.dtbAddr,
    cmdline: h.cmdline,
    name: h.name,
    headerSize: h.headerSize,
    ramdisks: v4 ? [] : [{ data: EMPTY, type: 0, name: EMPTY, boardId: new Array<number>(16).fill(0) }],
    dtb: EMPTY,
    bootconfig: EMPTY,
    tail: EMPTY,
    tableEntrySize: v4?.tableEntrySize,
  };
  return { header, page, sections, end, fileSize };
}

function emptyPayloads() {
  return { kernel: EMPTY, ramdisk: EMPTY, second: EMPTY, dt: EMPTY, recoveryDtbo: EMPTY, dtb: EMPTY, signature: EMPTY, tail: EMPTY };
}

export interface RamdiskTableEntry {
  size: number;
  offset: number;
  type: number;
  name: Uint8Array;
  boardId: number[];
}

/** Parses the v4 vendor ramdisk table (`bytes` is the table section at absolute offset `base`). */
export function parseRamdiskTable(bytes: Uint8Array, base: number, entryNum: number, entrySize: number, sectionSize: number): RamdiskTableEntry[] {
  limit(entryNum * entrySize, bytes.length, 'vendor ramdisk table', F, 0x844);
  const out: RamdiskTableEntry[] = [];
  for (let i = 0; i < entryNum; i++) {
    const at = i * entrySize;
    const e = VendorRamdiskEntry.decode(bytes, at, base);
    if (e.offset + e.size > sectionSize)
      throw new FormatError(F, 'BAD_FIELD', base + at, `Cannot parse vendor ramdisk ${i}: ${e.size} bytes at ${e.offset} lie outside the ${sectionSize}-byte ramdisk section`);
    const dv = new DataView(e.boardId.buffer, e.boardId.byteOffset, 64);
    const boardId = Array.from({ length: 16 }, (_, k) => dv.getUint32(4 * k, true));
    out.push({ size: e.size, offset: e.offset, type: e.type, name: e.name, boardId });
  }
  return out;
}

/** Whether the table entries cover the section in order without gaps, so it can be rebuilt from them. */
function coversInOrder(entries: readonly RamdiskTableEntry[], sectionSize: number): boolean {
  let at = 0;
  for (const e of entries) {
    if (e.offset !== at) return false;
    at += e.size;
  }
  return at === sectionSize;
}

type Reader<P> = (offset: number, size: number) => P;

/** The v4 vendor ramdisk table section, if the layout has one. */
function tableSection(lay: ImageLayout): Section | undefined {
  return lay.sections.find((s) => s.name === 'vendor_ramdisk_table');
}

function assemble<P extends Uint8Array | StreamPayload>(lay: ImageLayout, read: Reader<P>, head: Uint8Array, table: Uint8Array): AndroidImage<P> {
  const get = (name: SectionName): P => {
    const s = lay.sections.find((x) => x.name === name);
    return read(s?.offset ?? 0, s?.size ?? 0);
  };
  const last = [...lay.sections].reverse().find((s) => s.size > 0);
  const dataEnd = last ? last.offset + last.size : lay.page;
  const tailAt = Math.min(lay.end, lay.fileSize);
  const finalPadding = lay.fileSize < lay.end ? lay.fileSize - dataEnd : undefined;
  const tail = read(tailAt, lay.fileSize - tailAt);
  if (lay.header.kind === 'boot') {
    const h = lay.header;
    return {
      ...h,
      kernel: get('kernel'),
      ramdisk: get('ramdisk'),
      second: get('second'),
      dt: get('dt'),
      recoveryDtbo: get('recovery_dtbo'),
      dtb: get('dtb'),
      signature: get('boot_signature'),
      tail,
      finalPadding,
    };
  }
  const h = lay.header;
  const section = lay.sections.find((s) => s.name === 'vendor_ramdisk')!;
  let ramdisks: VendorRamdisk<P>[];
  let ramdiskSection: P | undefined;
  if (h.headerVersion === 4) {
    const t = tableSection(lay)!;
    const v4 = VendorBootHeaderV4Ext.decode(head, VendorBootHeaderV3.size);
    const entries = parseRamdiskTable(table, t.offset, v4.tableEntryNum, v4.tableEntrySize, section.size);
    const whole = !coversInOrder(entries, section.size);
    ramdisks = [];
    for (const e of entries)
      ramdisks.push({ data: read(section.offset + e.offset, e.size), type: e.type, name: e.name, boardId: e.boardId, offset: whole ? e.offset : undefined });
    if (whole) ramdiskSection = read(section.offset, section.size);
  } else {
    ramdisks = [{ ...h.ramdisks[0]!, data: read(section.offset, section.size) }];
  }
  return { ...h, ramdisks, ramdiskSection, dtb: get('dtb'), bootconfig: get('bootconfig'), tail, finalPadding };
}

/**
 * Decodes a boot, init_boot or vendor_boot image held in memory. Every payload is a zero-copy
 * view of `bytes`. Bad input throws FormatError with the offset of the offending field.
 * @example
 * const img = decodeBootImage(await readFile('boot.img'));
 * if (img.kind === 'boot') console.log(img.headerVersion, img.kernel.length);
 */
export function decodeBootImage(bytes: Uint8Array): AndroidImage {
  const head = bytes.subarray(0, HEAD_BYTES);
  const lay = parseImageLayout(head, bytes.length);
  const sub = (o: number, n: number) => bytes.subarray(o, o + n);
  const t = tableSection(lay);
  return assemble(lay, sub, head, t ? sub(t.offset, t.size) : EMPTY);
}

/**
 * Opens an image through random access: the header is read now, each payload streams from the
 * input when its `chunks()` are iterated (a 1 GiB kernel never sits in memory).
 */
export async function openBootImage(ra: RandomAccess): Promise<AndroidImage<StreamPayload> & { layout: ImageLayout }> {
  const head = await ra.readAt(0, Math.min(ra.size, HEAD_BYTES));
  const lay = parseImageLayout(head, ra.size);
  const t = tableSection(lay);
  const table = t ? await ra.readAt(t.offset, t.size) : EMPTY;
  const img = assemble<StreamPayload>(lay, (o, n) => rangePayload(ra, o, n, F), head, table);
  return Object.assign(img, { layout: lay });
}

/** Reads only the layout (header fields and blob locations) of an image in memory. */
export function bootImageLayout(bytes: Uint8Array): ImageLayout {
  return parseImageLayout(bytes.subarray(0, HEAD_BYTES), bytes.length);
}

export { bytesAccess };
export { bootHeaderStructSize };
