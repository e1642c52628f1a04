import { createHash } from 'node:crypto';
import { idHash, type AsyncHash } from './hash-worker.js';
import { padding } from '../bytes/limits.js';
import { EMPTY, payloadChunks, payloadSize, transientChunks, type Payload } from '../bytes/payload.js';
import { memorySink, writeBehind, type ByteSink, type WriteBehind } from '../bytes/sink.js';
import {
  BOOT_HEADER_V3_PAGESIZE, BOOT_MAGIC, BootHeaderV0, BootHeaderV1Ext, BootHeaderV2Ext, BootHeaderV3, BootHeaderV4Ext,
  VENDOR_BOOT_MAGIC, VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE, VendorBootHeaderV3, VendorBootHeaderV4Ext, VendorRamdiskEntry,
  bootHeaderStructSize, paddedSize, recoveryDtboOffsetOf, vendorHeaderStructSize,
} from './layout.js';
import type { AndroidImage, BootImage, VendorBootImage } from './model.js';

export { recoveryDtboOffsetOf };

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The blobs an id covers, in order: AOSP update_sha() over kernel, ramdisk, second, (dt), v1 recovery_dtbo, v2 dtb. */
export function idParts<P extends Payload>(img: BootImage<P>): P[] {
  const parts = [img.kernel, img.ramdisk, img.second];
  if (payloadSize(img.dt) > 0) parts.push(img.dt);
  if (img.headerVersion >= 1) parts.push(img.recoveryDtbo);
  if (img.headerVersion >= 2) parts.push(img.dtb);
  return parts;
}

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** The 32-byte id: the digest of each blob followed by its size as le32, zero-padded to 32 bytes. */
export async function computeBootId(img: BootImage<Payload>, algo: 'sha1' | 'sha256' = 'sha1'): Promise<Uint8Array> {
  const h = createHash(algo);
  for (const p of idParts(img)) {
    for await (const c of payloadChunks(p)) h.update(c);
    h.update(le32(payloadSize(p)));
  }
  const out = new Uint8Array(32);
  out.set(h.digest());
  return out;
}

function computeBootIdSync(img: BootImage, algo: 'sha1' | 'sha256'): Uint8Array {
  const h = createHash(algo);
  for (const p of idParts(img)) h.update(p).update(le32(p.length));
  const out = new Uint8Array(32);
  out.set(h.digest());
  return out;
}

function checkBoot(img: BootImage<Payload>): void {
  const v = img.headerVersion;
  if (!Number.isInteger(v) || v < 0 || v > 4) throw new RangeError(`Cannot encode boot image: header version ${v} is not 0–4`);
  const none = (what: string, p: Payload) => {
    if (payloadSize(p) > 0) throw new RangeError(`Cannot encode boot image: header version ${v} has no ${what}`);
  };
  if (v >= 3) {
    none('second', img.second);
    none('recovery_dtbo', img.recoveryDtbo);
    none('dtb', img.dtb);
    none('legacy dt', img.dt);
    if (v === 3) none('boot signature', img.signature);
  } else {
    const p = img.pageSize;
    if (!Number.isInteger(p) || p < 512 || (p & (p - 1)) !== 0) throw new RangeError(`Cannot encode boot image: page size ${p} is not a power of two ≥ 512`);
    none('boot signature', img.signature);
    if (v < 1) none('recovery_dtbo', img.recoveryDtbo);
    if (v < 2) none('dtb', img.dtb);
    if (v > 0) none('legacy dt (header v0 only)', img.dt);
  }
}

/** The header page of a boot image, given its id bytes. */
export function bootHeaderPage(img: BootImage<Payload>, id: Uint8Array): Uint8Array {
  checkBoot(img);
  const v = img.headerVersion;
  const page = v >= 3 ? BOOT_HEADER_V3_PAGESIZE : img.pageSize;
  const out = new Uint8Array(paddedSize(bootHeaderStructSize(v), page));
  if (v >= 3) {
    BootHeaderV3.encode({
      magic: ascii(BOOT_MAGIC),
      kernelSize: payloadSize(img.kernel),
      ramdiskSize: payloadSize(img.ramdisk),
      osVersion: img.osVersion,
      headerSize: img.headerSize ?? bootHeaderStructSize(v),
      reserved: img.reserved,
      headerVersion: v,
      cmdline: img.cmdline,
    }, out);
    if (v === 4) BootHeaderV4Ext.encode({ signatureSize: payloadSize(img.signature) }, out, BootHeaderV3.size);
    return out;
  }
  const dtSize = payloadSize(img.dt);
  BootHeaderV0.encode({
    magic: ascii(BOOT_MAGIC),
    kernelSize: payloadSize(img.kernel),
    kernelAddr: img.kernelAddr,
    ramdiskSize: payloadSize(img.ramdisk),
    ramdiskAddr: img.ramdiskAddr,
    secondSize: payloadSize(img.second),
    secondAddr: img.secondAddr,
    tagsAddr: img.tagsAddr,
    pageSize: img.pageSize,
    headerVersion: dtSize > 0 ? dtSize : v,
    osVersion: img.osVersion,
    name: img.name,
    cmdline: img.cmdline,
    id,
    extraCmdline: img.extraCmdline,
  }, out);
  if (v >= 1)
    BootHeaderV1Ext.encode({
      recoveryDtboSize: payloadSize(img.recoveryDtbo),
      recoveryDtboOffset: img.recoveryDtboOffset ?? recoveryDtboOffsetOf(img),
      headerSize: img.headerSize ?? bootHeaderStructSize(v),
    }, out, BootHeaderV0.size);
  if (v >= 2) BootHeaderV2Ext.encode({ dtbSize: payloadSize(img.dtb), dtbAddr: img.dtbAddr }, out, BootHeaderV0.size + BootHeaderV1Ext.size);
  return out;
}

function vendorTable<P extends Payload>(img: VendorBootImage<P>): Uint8Array {
  const entrySize = img.tableEntrySize ?? VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE;
  const out = new Uint8Array(img.ramdisks.length * entrySize);
  const section = vendorSection(img).reduce((n, x) => n + payloadSize(x), 0);
  let at = 0;
  img.ramdisks.forEach((r, i) => {
    if (r.boardId.length !== 16) throw new RangeError(`Cannot encode vendor ramdisk ${i}: board_id has ${r.boardId.length} values, not 16`);
    const boardId = new Uint8Array(64);
    const dv = new DataView(boardId.buffer);
    r.boardId.forEach((x, k) => dv.setUint32(4 * k, x, true));
    const size = payloadSize(r.data);
    const offset = r.offset ?? at;
    // what the readers (ours, unpack_bootimg) would refuse
    if (offset + size > section) throw new RangeError(`Cannot encode vendor ramdisk ${i}: ${size} bytes at ${offset} lie outside the ${section}-byte ramdisk section`);
    VendorRamdiskEntry.encode({ size, offset, type: r.type, name: r.name, boardId }, out, i * entrySize);
    at += size;
  });
  return out;
}

function vendorSection<P extends Payload>(img: VendorBootImage<P>): Payload[] {
  if (img.ramdiskSection !== undefined) return [img.ramdiskSection];
  return img.headerVersion >= 4 ? img.ramdisks.map((r) => r.data) : [img.ramdisks[0]?.data ?? EMPTY];
}

/** The header pages of a vendor_boot image. */
export function vendorHeaderPages(img: VendorBootImage<Payload>, table: Uint8Array): Uint8Array {
  const v = img.headerVersion;
  if (v !== 3 && v !== 4) throw new RangeError(`Cannot encode vendor boot image: header version ${v} is not 3 or 4`);
  if (v === 3 && img.ramdisks.length !== 1) throw new RangeError('Cannot encode vendor boot v3: it holds exactly one vendor ramdisk');
  const p = img.pageSize;
  if (!Number.isInteger(p) || p < 512 || (p & (p - 1)) !== 0) throw new RangeError(`Cannot encode vendor boot image: page size ${p} is not a power of two ≥ 512`);
  const out = new Uint8Array(paddedSize(vendorHeaderStructSize(v), p));
  VendorBootHeaderV3.encode({
    magic: ascii(VENDOR_BOOT_MAGIC),
    headerVersion: v,
    pageSize: p,
    kernelAddr: img.kernelAddr,
    ramdiskAddr: img.ramdiskAddr,
    vendorRamdiskSize: vendorSection(img).reduce((n, x) => n + payloadSize(x), 0),
    cmdline: img.cmdline,
    tagsAddr: img.tagsAddr,
    name: img.name,
    headerSize: img.headerSize ?? vendorHeaderStructSize(v),
    dtbSize: payloadSize(img.dtb),
    dtbAddr: img.dtbAddr,
  }, out);
  if (v === 4)
    VendorBootHeaderV4Ext.encode({
      tableSize: table.length,
      tableEntryNum: img.ramdisks.length,
      tableEntrySize: img.tableEntrySize ?? VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE,
      bootconfigSize: payloadSize(img.bootconfig),
    }, out, VendorBootHeaderV3.size);
  return out;
}

/** What follows the header: groups of payloads, each group padded to the page as a whole. */
function bodyOf<P extends Payload>(img: AndroidImage<P>, table: Uint8Array): Payload[][] {
  if (img.kind === 'boot') {
    const g: Payload[][] = [[img.kernel], [img.ramdisk]];
    if (img.headerVersion >= 3) {
      if (img.headerVersion === 4) g.push([img.signature]);
    } else {
      g.push([img.second], [img.dt]);
      if (img.headerVersion >= 1) g.push([img.recoveryDtbo]);
      if (img.headerVersion >= 2) g.push([img.dtb]);
    }
    return g;
  }
  const g: Payload[][] = [vendorSection(img), [img.dtb]];
  if (img.headerVersion === 4) g.push([table], [img.bootconfig]);
  return g;
}

function pageOf(img: AndroidImage<Payload>): number {
  return img.kind === 'boot' && img.headerVersion >= 3 ? BOOT_HEADER_V3_PAGESIZE : img.pageSize;
}

/** Padding after each group; the last non-empty group's padding is cut to `finalPadding` when that is set. */
function paddings(groups: Payload[][], page: number, finalPadding: number | undefined): number[] {
  const sizes = groups.map((g) => g.reduce((n, p) => n + payloadSize(p), 0));
  const pads = sizes.map((n) => padding(n, page));
  if (finalPadding !== undefined) {
    const last = sizes.findLastIndex((n) => n > 0);
    if (last >= 0) pads[last] = Math.min(pads[last]!, finalPadding);
  }
  return pads;
}

/**
 * Streams an image into `sink`: header, each blob padded to the page, then the tail. Blobs given
 * as streams are never held in memory. When the id must be computed and the sink can seek, the
 * blobs are hashed as they are copied and the header is written last, in one pass; otherwise they
 * are read twice (once to hash, once to copy). Returns the id written into a v0–v2 header.
 * @example
 * await withOutputFile('boot.img', (sink) => writeBootImage(sink, buildBootImage({ kernel, ramdisk })));
 */
export async function writeBootImage(sink: ByteSink, img: AndroidImage<Payload>): Promise<Uint8Array | undefined> {
  const table = img.kind === 'vendor_boot' && img.headerVersion === 4 ? vendorTable(img) : EMPTY;
  const groups = bodyOf(img, table);
  const pads = paddings(groups, pageOf(img), img.finalPadding);
  const start = sink.position;
  let hash: AsyncHash | undefined;
  let header: Uint8Array;
  let id: Uint8Array | undefined;
  if (img.kind === 'boot' && img.headerVersion <= 2 && typeof img.id === 'string' && sink.writeAt) {
    hash = idHash(img.id, idParts(img).reduce((n, p) => n + payloadSize(p), 0));
    header = bootHeaderPage(img, EMPTY); // a placeholder of the right size; rewritten below
  } else if (img.kind === 'boot') {
    id = img.headerVersion >= 3 ? undefined : typeof img.id === 'string' ? await computeBootId(img, img.id) : img.id;
    header = bootHeaderPage(img, id ?? EMPTY);
  } else header = vendorHeaderPages(img, table);
  const w = writeBehind(sink);
  try {
    await w.write([header]);
    for (let i = 0; i < groups.length; i++) {
      // v0–v2 groups are kernel, ramdisk, second, dt, recovery_dtbo, dtb: all in the id but an absent dt
      const hashed = hash && !(i === 3 && payloadSize(img.kind === 'boot' ? img.dt : EMPTY) === 0) ? hash : undefined;
      for (const p of groups[i]!) {
        await copyPayload(sink, w, p, hashed);
        if (hashed) await hashed.update(le32(payloadSize(p)));
      }
      if (pads[i]) await w.write([zeros(pads[i]!)]);
    }
    for await (const c of payloadChunks(img.tail)) await w.write([c]);
    if (hash && img.kind === 'boot') {
      id = new Uint8Array(32);
      id.set(await hash.digest());
    }
  } finally {
    hash?.close();
    await w.flush();
  }
  if (id && hash && img.kind === 'boot') await sink.writeAt!(start, [bootHeaderPage(img, id)]);
  return id;
}

/**
 * Appends a payload through `w`, each byte seen by `hash` first. A file range goes to a sink that
 * can copy files as a kernel copy, and is read (into one reused buffer) only when it is hashed,
 * the hash running while the copy does.
 */
export async function copyPayload(sink: ByteSink, w: WriteBehind, p: Payload, hash: AsyncHash | undefined): Promise<void> {
  if (sink.copyFrom && !(p instanceof Uint8Array) && p.file) {
    w.copy(p.file, p.size);
    if (hash) for (const c of transientChunks(p.file, p.size)) await hash.update(c);
    return;
  }
  for await (const c of payloadChunks(p)) {
    if (hash) await hash.update(c);
    await w.write([c]);
  }
}

const ZERO_PAGE = new Uint8Array(64 * 1024);
function zeros(n: number): Uint8Array {
  return n <= ZERO_PAGE.length ? ZERO_PAGE.subarray(0, n) : new Uint8Array(n);
}

/**
 * Encodes an image held in memory to bytes.
 * @example
 * const bytes = encodeBootImage(decodeBootImage(original)); // equal to original
 */
export function encodeBootImage(img: AndroidImage): Uint8Array {
  const table = img.kind === 'vendor_boot' && img.headerVersion === 4 ? vendorTable(img) : EMPTY;
  const header =
    img.kind === 'boot'
      ? bootHeaderPage(img, img.headerVersion >= 3 ? EMPTY : typeof img.id === 'string' ? computeBootIdSync(img, img.id) : img.id)
      : vendorHeaderPages(img, table);
  const groups = bodyOf(img, table) as Uint8Array[][];
  const pads = paddings(groups, pageOf(img), img.finalPadding);
  const total = header.length + groups.reduce((n, g, i) => n + g.reduce((m, p) => m + p.length, 0) + pads[i]!, 0) + img.tail.length;
  const out = new Uint8Array(total);
  out.set(header);
  let at = header.length;
  groups.forEach((g, i) => {
    for (const p of g) {
      out.set(p, at);
      at += p.length;
    }
    at += pads[i]!;
  });
  out.set(img.tail, at);
  return out;
}

/** Encodes through the streaming writer (for tests that check both paths agree). */
export async function encodeBootImageStreaming(img: AndroidImage<Payload>): Promise<Uint8Array> {
  const s = memorySink();
  await writeBootImage(s, img);
  return s.bytes();
}
