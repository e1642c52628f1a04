/**
 * What `bootimg info` reports beyond the header: compression of kernel and ramdisk, an appended
 * DTB after the kernel, MTK 512-byte headers, an AVB footer or SEANDROIDENFORCE in the tail, and
 * whether the stored id matches the blobs.
 */
import { detectCompression, type CompressionId } from '../codec/detect.js';
import { payloadBytes, payloadHead, payloadSize, type Payload, type StreamPayload } from '../bytes/payload.js';
import type { AndroidImage, BootImage } from './model.js';

const FDT_MAGIC = 0xd00dfeed;
const FDT_MAGIC_BYTES = Buffer.from([0xd0, 0x0d, 0xfe, 0xed]);
const ZIMAGE_MAGIC = 0x016f2818;
const MTK_MAGIC = 0x58881688;
const AVB_FOOTER_MAGIC = 'AVBf';
const SEANDROID = 'SEANDROIDENFORCE';
/** How much of a kernel is scanned for an appended DTB. */
const SCAN_LIMIT = 64 << 20;

export interface BlobInfo {
  size: number;
  /** The compression the blob (after an MTK header, if any) starts with. */
  compression?: CompressionId | undefined;
  /** MTK 512-byte header: its label ("KERNEL", "ROOTFS" …) and payload size. */
  mtk?: { label: string; size: number } | undefined;
  /** ARM zImage: its length from the header. */
  zImage?: { size: number } | undefined;
  /** Device trees appended after the kernel: offset in the blob and totalsize of each. */
  appendedDtbs?: { offset: number; size: number }[] | undefined;
}

export interface AvbFooter {
  major: number;
  minor: number;
  originalImageSize: number;
  vbmetaOffset: number;
  vbmetaSize: number;
}

export interface TailInfo {
  size: number;
  seandroidEnforce: boolean;
  avbFooter?: AvbFooter | undefined;
}

export type IdCheck = 'sha1' | 'sha256' | 'zero' | 'mismatch';

const be32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset + o, 4).getUint32(0, false);
const le32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset + o, 4).getUint32(0, true);
const be64 = (b: Uint8Array, o: number) => be32(b, o) * 2 ** 32 + be32(b, o + 4);
const text = (b: Uint8Array) => new TextDecoder('latin1').decode(b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)));

/** Whether a plausible flattened device tree header starts at `o`. */
export function fdtAt(b: Uint8Array, o: number): number | undefined {
  if (o < 0 || o + 40 > b.length || be32(b, o) !== FDT_MAGIC) return undefined;
  const total = be32(b, o), size = be32(b, o + 4), offStruct = be32(b, o + 8), version = be32(b, o + 20);
  void total;
  if (size < 40 || o + size > b.length || offStruct + 4 > size || version < 16 || version > 17) return undefined;
  if (be32(b, o + offStruct) !== 1) return undefined; // FDT_BEGIN_NODE
  return size;
}

function describeBlob(head: Uint8Array, size: number, whole: Uint8Array | undefined, kernel: boolean): BlobInfo {
  const info: BlobInfo = { size };
  let body = head;
  if (head.length >= 512 && le32(head, 0) === MTK_MAGIC) {
    info.mtk = { label: text(head.subarray(8, 40)), size: le32(head, 4) };
    body = head.subarray(512);
  }
  info.compression = detectCompression(body);
  if (!kernel) return info;
  // an ARM zImage header: start and end addresses; an end before the start is no length at all
  if (body.length >= 0x30 && le32(body, 0x24) === ZIMAGE_MAGIC && le32(body, 0x2c) >= le32(body, 0x28)) info.zImage = { size: le32(body, 0x2c) - le32(body, 0x28) };
  if (whole) {
    const dtbs: { offset: number; size: number }[] = [];
    const base = info.mtk ? 512 : 0;
    let from = info.zImage ? base + info.zImage.size : base + 1;
    if (info.zImage && fdtAt(whole, from) === undefined) from = base + 1;
    const buf = Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength);
    for (let o = buf.indexOf(FDT_MAGIC_BYTES, from); o >= 0 && o + 40 <= whole.length; o = buf.indexOf(FDT_MAGIC_BYTES, o)) {
      const n = fdtAt(whole, o);
      if (n === undefined) {
        o += 1;
        continue;
      }
      dtbs.push({ offset: o, size: n });
      o += n;
    }
    if (dtbs.length) info.appendedDtbs = dtbs;
  }
  return info;
}

/** Reads the AVB footer (last 64 bytes, big-endian) and SEANDROIDENFORCE marker of a tail. */
export function describeTail(tail: Uint8Array): TailInfo {
  const info: TailInfo = { size: tail.length, seandroidEnforce: false };
  if (tail.length >= SEANDROID.length && text(tail.subarray(0, SEANDROID.length)) === SEANDROID) info.seandroidEnforce = true;
  if (tail.length >= 64) {
    const f = tail.subarray(tail.length - 64);
    if (text(f.subarray(0, 4)) === AVB_FOOTER_MAGIC)
      info.avbFooter = { major: be32(f, 4), minor: be32(f, 8), originalImageSize: be64(f, 12), vbmetaOffset: be64(f, 20), vbmetaSize: be64(f, 28) };
  }
  return info;
}

export async function describePayload(p: Payload, kernel = false): Promise<BlobInfo> {
  const size = payloadSize(p);
  const whole = kernel && size <= SCAN_LIMIT ? await payloadBytes(p) : undefined;
  return describeBlob(whole ?? (await payloadHead(p, 1024)), size, whole, kernel);
}

/** Whether the id stored in a v0–v2 header is the SHA-1 or SHA-256 id of its blobs. */
export async function checkBootId(img: BootImage<Payload>): Promise<IdCheck> {
  const stored = img.id;
  if (!(stored instanceof Uint8Array)) return stored;
  if (stored.every((x) => x === 0)) return 'zero';
  // the writer (and node:crypto) loads only when an id is checked: unpack lists an image without
  const { computeBootId } = await import('./write.js');
  const eq = (a: Uint8Array) => a.every((x, i) => x === stored[i]);
  const sha256 = stored.subarray(24).some((x) => x !== 0);
  if (!sha256 && eq(await computeBootId(img, 'sha1'))) return 'sha1';
  if (eq(await computeBootId(img, 'sha256'))) return 'sha256';
  return 'mismatch';
}

export interface ImageReport {
  kernel?: BlobInfo;
  ramdisk?: BlobInfo;
  vendorRamdisks?: BlobInfo[];
  tail: TailInfo;
  id?: IdCheck;
}

export interface InspectOptions {
  /** Scan the kernel for appended DTBs (reads up to 64 MiB of it); default true. */
  appendedDtbs?: boolean;
  /** The id check, when the caller has already done it. */
  id?: IdCheck | undefined;
  /** Compare the stored id of a v0–v2 image with its blobs (hashes all of them); default true. */
  checkId?: boolean;
}

export async function inspectImage(img: AndroidImage<Payload> | AndroidImage<StreamPayload>, opts: InspectOptions = {}): Promise<ImageReport> {
  const tail = { ...describeTail(await tailEnds(img.tail)), size: payloadSize(img.tail) };
  if (img.kind === 'boot') {
    const report: ImageReport = { tail };
    if (payloadSize(img.kernel)) report.kernel = await describePayload(img.kernel, opts.appendedDtbs ?? true);
    if (payloadSize(img.ramdisk)) report.ramdisk = await describePayload(img.ramdisk);
    if (img.headerVersion <= 2 && (opts.id || opts.checkId !== false)) report.id = opts.id ?? (await checkBootId(img));
    return report;
  }
  const vendorRamdisks: BlobInfo[] = [];
  for (const r of img.ramdisks) vendorRamdisks.push(await describePayload(r.data));
  return { tail, vendorRamdisks };
}

/** The first and last 64 bytes of a tail are all `describeTail` looks at; a large tail streams through. */
async function tailEnds(p: Payload): Promise<Uint8Array> {
  const n = payloadSize(p);
  if (p instanceof Uint8Array || n <= 128) return payloadBytes(p);
  if (p.readAt) {
    const out = new Uint8Array(128);
    out.set(await p.readAt(0, 64));
    out.set(await p.readAt(n - 64, 64), 64);
    return out;
  }
  const first = new Uint8Array(64);
  let last = new Uint8Array(0);
  let at = 0;
  for await (const c of p.chunks()) {
    if (at < 64) first.set(c.subarray(0, 64 - at), at);
    at += c.length;
    const joined = new Uint8Array(Math.min(64, last.length + c.length));
    const fromC = Math.min(c.length, 64);
    joined.set(last.subarray(last.length - (joined.length - fromC)), 0);
    joined.set(c.subarray(c.length - fromC), joined.length - fromC);
    last = joined;
  }
  const out = new Uint8Array(128);
  out.set(first);
  out.set(last, 64);
  return out;
}
