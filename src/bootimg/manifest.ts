/**
 * `bootimg.json`: every header field of an unpacked image, next to its blobs, so `repack` can
 * rebuild the image byte for byte. Values that follow from the blobs (sizes, the id, the
 * recovery_dtbo offset, header_size) are written only where the image deviates from what
 * mkbootimg derives, so an edited blob gets a correct header.
 *
 * The id of a v0–v2 image takes one of three forms:
 * - `{"hex": "…", "crc32": {"kernel": "0x…", …}}` (what `unpack` writes): the stored id, kept
 *   while every blob it covers still has the CRC-32 recorded here, and renewed (with the digest
 *   it was made with: SHA-256 when bytes 20–31 are set, else SHA-1) once one of them changed,
 *   appeared or went away. An image whose stored id never matched its blobs comes back as it was.
 * - `"sha1"` or `"sha256"`: computed from the blobs.
 * - `{"hex": "…"}`: written as given, whatever the blobs (also a zero id, which nothing renews).
 */
import { join } from 'node:path';
import { EMPTY, filePayload, payloadSize, type Payload, type StreamPayload } from '../bytes/payload.js';
import { crc32Range } from '../bytes/crc32.js';
import { fileAccess } from '../bytes/random.js';
import { bootHeaderStructSize, packOsVersion, recoveryDtboOffsetOf, unpackOsVersion, vendorHeaderStructSize, VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE } from './layout.js';
import type { AndroidImage, BootImage, VendorBootImage } from './model.js';
import { parseOsPatchLevel, parseOsVersion } from './build.js';
import type { IdCheck } from './inspect.js';

export const MANIFEST_NAME = 'bootimg.json';
export const MANIFEST_FORMAT = 'imgkit-bootimg/1';

/** A text field: a string when the raw bytes are its UTF-8 and NUL padding, else hex. */
export type TextField = string | { hex: string };

const dec = new TextDecoder('utf-8', { fatal: true });
const enc = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const h32 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

function trimZeros(b: Uint8Array): Uint8Array {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

export function textField(raw: Uint8Array): TextField {
  const t = trimZeros(raw);
  if (!t.includes(0)) {
    try {
      return dec.decode(t);
    } catch {
      /* not UTF-8 */
    }
  }
  return { hex: hex(t) };
}

export function fieldBytes(f: TextField, what: string): Uint8Array {
  if (typeof f === 'string') return enc.encode(f);
  if (f && typeof f === 'object' && typeof f.hex === 'string' && /^([0-9a-fA-F]{2})*$/.test(f.hex)) return Uint8Array.from(Buffer.from(f.hex, 'hex'));
  throw new ManifestError(`${what} must be a string or {"hex": "…"}`);
}

/** A bootimg.json that cannot be used; reported like a usage mistake, not as bad image bytes. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  /** Exit code for command-line tools: bad input. */
  readonly exitCode = 1;
}

export interface Manifest {
  format: string;
  kind: 'boot' | 'vendor_boot';
  headerVersion: number;
  pageSize: number;
  [key: string]: unknown;
}

function osFields(field: number): Record<string, unknown> {
  const { version, patch } = unpackOsVersion(field);
  const out: Record<string, unknown> = {};
  if (version) out.osVersion = version.join('.');
  if (patch) out.osPatchLevel = `${patch[0]}-${String(patch[1]).padStart(2, '0')}`;
  const again = packOsVersion(parseOsVersion(out.osVersion as string | undefined), safePatch(out.osPatchLevel as string | undefined));
  if (again !== field) out.osVersionField = h32(field);
  return out;
}

function safePatch(s: string | undefined): [number, number] | undefined {
  try {
    return parseOsPatchLevel(s);
  } catch {
    return undefined;
  }
}

/** The manifest keys of the blobs a v0–v2 id covers (`dt` only when present, as in {@link idParts}). */
const ID_KEYS = ['kernel', 'ramdisk', 'second', 'dt', 'recoveryDtbo', 'dtb'] as const;

/** The digest a stored id was made with: SHA-256 fills bytes 20–31, SHA-1 leaves them zero; undefined for a zero id. */
export function idAlgorithm(stored: Uint8Array): 'sha1' | 'sha256' | undefined {
  if (stored.every((x) => x === 0)) return undefined;
  return stored.subarray(20).some((x) => x !== 0) ? 'sha256' : 'sha1';
}

/**
 * What the manifest says of the id: the result of checking it (`sha1`/`sha256` mean it matched and
 * is computed again on repack; otherwise the stored bytes are kept), or the CRC-32 of each written
 * blob (keyed by the blob's payload), so that the stored id is kept while the blobs stay the same.
 */
export type ManifestId = IdCheck | { crc32: ReadonlyMap<Payload, number> } | undefined;

/**
 * The manifest of an image, and the files to write next to it (name → payload; empty blobs
 * omitted unless mkbootimg always writes them).
 */
export function toManifest<P extends Payload>(img: AndroidImage<P>, id: ManifestId): { manifest: Manifest; files: [string, P][] } {
  const files: [string, P][] = [];
  const file = (name: string, p: P, always = false): string | undefined => {
    if (!always && payloadSize(p) === 0) return undefined;
    files.push([name, p]);
    return name;
  };
  const m: Manifest = { format: MANIFEST_FORMAT, kind: img.kind, headerVersion: img.headerVersion, pageSize: img.pageSize };
  if (img.kind === 'boot') {
    const v = img.headerVersion;
    if (v <= 2) {
      Object.assign(m, { kernelAddr: h32(img.kernelAddr), ramdiskAddr: h32(img.ramdiskAddr), secondAddr: h32(img.secondAddr), tagsAddr: h32(img.tagsAddr) });
      if (v === 2) m.dtbAddr = '0x' + img.dtbAddr.toString(16).padStart(16, '0');
    }
    Object.assign(m, osFields(img.osVersion));
    if (v <= 2) {
      m.name = textField(img.name);
      m.cmdline = textField(img.cmdline);
      m.extraCmdline = textField(img.extraCmdline);
      m.id = id === 'sha1' || id === 'sha256' ? id : { hex: hex(img.id instanceof Uint8Array ? img.id : EMPTY) };
    } else {
      m.cmdline = textField(img.cmdline);
      if (img.reserved.some((x) => x !== 0)) m.reserved = { hex: hex(img.reserved) };
    }
    if (v >= 1 && img.headerSize !== undefined && img.headerSize !== bootHeaderStructSize(v)) m.headerSize = img.headerSize;
    if (v >= 1 && v <= 2 && img.recoveryDtboOffset !== undefined && img.recoveryDtboOffset !== recoveryDtboOffsetOf(img)) m.recoveryDtboOffset = img.recoveryDtboOffset;
    m.files = Object.fromEntries(
      [
        ['kernel', file('kernel', img.kernel, true)],
        ['ramdisk', file('ramdisk', img.ramdisk, true)],
        ['second', file('second', img.second)],
        ['dt', file('dt', img.dt)],
        ['recoveryDtbo', file('recovery_dtbo', img.recoveryDtbo)],
        ['dtb', file('dtb', img.dtb)],
        ['signature', file('boot_signature', img.signature)],
        ['tail', file('tail', img.tail)],
      ].filter(([, f]) => f !== undefined),
    );
    const stored = img.id instanceof Uint8Array ? img.id : EMPTY;
    if (v <= 2 && typeof id === 'object' && idAlgorithm(stored)) {
      const present = ID_KEYS.filter((k) => (m.files as Record<string, string>)[k] !== undefined);
      const crcOf = (k: (typeof ID_KEYS)[number]): string => {
        const c = id.crc32.get(img[k]);
        if (c === undefined) throw new RangeError(`Cannot describe the id: no CRC-32 given for ${k}`);
        return h32(c);
      };
      m.id = { hex: hex(stored), crc32: Object.fromEntries(present.map((k) => [k, crcOf(k)])) };
    }
  } else {
    Object.assign(m, {
      kernelAddr: h32(img.kernelAddr),
      ramdiskAddr: h32(img.ramdiskAddr),
      tagsAddr: h32(img.tagsAddr),
      dtbAddr: '0x' + img.dtbAddr.toString(16).padStart(16, '0'),
      vendorCmdline: textField(img.cmdline),
      name: textField(img.name),
    });
    if (img.headerSize !== undefined && img.headerSize !== vendorHeaderStructSize(img.headerVersion)) m.headerSize = img.headerSize;
    if (img.tableEntrySize !== undefined && img.tableEntrySize !== VENDOR_RAMDISK_TABLE_ENTRY_V4_SIZE) m.tableEntrySize = img.tableEntrySize;
    const whole = img.ramdiskSection !== undefined ? file('vendor_ramdisk', img.ramdiskSection, true) : undefined;
    if (whole) m.ramdiskSection = whole;
    m.ramdisks = img.ramdisks.map((r, i) => {
      const name = img.headerVersion === 3 ? 'vendor_ramdisk' : `vendor_ramdisk${String(i).padStart(2, '0')}`;
      const e: Record<string, unknown> = { file: file(name, r.data, true) };
      if (img.headerVersion === 4) {
        Object.assign(e, { type: r.type, name: textField(r.name), boardId: r.boardId.map(h32) });
        if (r.offset !== undefined) e.offset = r.offset;
      }
      return e;
    });
    m.files = Object.fromEntries(
      [
        ['dtb', file('dtb', img.dtb)],
        ['bootconfig', file('bootconfig', img.bootconfig)],
        ['tail', file('tail', img.tail)],
      ].filter(([, f]) => f !== undefined),
    );
  }
  if (img.finalPadding !== undefined) m.finalPadding = img.finalPadding;
  return { manifest: m, files };
}

/** The id a v0–v2 image is rebuilt with (see the module comment for the three forms). */
async function manifestId(v: unknown, files: Record<string, unknown>, dir: string): Promise<Uint8Array | 'sha1' | 'sha256'> {
  if (v === 'sha1' || v === 'sha256') return v;
  if (v === undefined) return EMPTY;
  const stored = fieldBytes(v as TextField, 'id');
  const sums = (v as { crc32?: unknown }).crc32;
  if (sums === undefined) return stored;
  if (typeof sums !== 'object' || sums === null || Array.isArray(sums)) throw new ManifestError('id.crc32 must map blob names to CRC-32 values');
  const recorded = sums as Record<string, unknown>;
  for (const [k, c] of Object.entries(recorded)) {
    if (!(ID_KEYS as readonly string[]).includes(k)) throw new ManifestError(`id.crc32.${k}: not a blob the id covers`);
    num(c, `id.crc32.${k}`);
  }
  const algo = idAlgorithm(stored);
  if (!algo) return stored;
  for (const k of ID_KEYS) {
    const name = files[k];
    if ((name === undefined) !== (recorded[k] === undefined)) return algo;
    if (name === undefined) continue;
    const ra = await fileAccess(join(dir, safeName(name, `files.${k}`)), 'bootimg');
    try {
      if ((await crc32Range(ra, 0, ra.size, String(name))) !== num(recorded[k], `id.crc32.${k}`)) return algo;
    } finally {
      await ra.close?.();
    }
  }
  return stored;
}

/** The largest value of a 32-bit header field; fields of 64 bits (dtb address, recovery DTBO offset) pass WIDE. */
const U32_MAX = 0xffffffff;
const WIDE = Number.MAX_SAFE_INTEGER;

function num(v: unknown, what: string, fallback?: number, max = U32_MAX): number {
  if (v === undefined && fallback !== undefined) return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new ManifestError(`${what} must be a non-negative integer or 0x-hex string, not ${JSON.stringify(v)}`);
  if (n > max) throw new ManifestError(`${what} is ${JSON.stringify(v)}, past the field's largest value 0x${max.toString(16)}`);
  return n;
}

function optNum(v: unknown, what: string, max = U32_MAX): number | undefined {
  return v === undefined ? undefined : num(v, what, undefined, max);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An optional text field (os version, patch level): a string or absent. */
function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || typeof v === 'string') return v;
  throw new ManifestError(`${what} must be a string, not ${JSON.stringify(v)}`);
}

function safeName(f: unknown, what: string): string {
  if (typeof f !== 'string' || f === '' || f.includes('/') || f.includes('\\') || f === '.' || f === '..')
    throw new ManifestError(`${what} must name a file in the unpacked folder, not ${JSON.stringify(f)}`);
  return f;
}

/** Reads the blobs a manifest names from `dir` (streamed, never held in memory) and rebuilds the image model. */
export async function fromManifest(m: Manifest, dir: string): Promise<AndroidImage<StreamPayload | Uint8Array>> {
  if (!isRecord(m)) throw new ManifestError(`the manifest must be an object, not ${JSON.stringify(m)?.slice(0, 40)}`);
  if (m.format !== MANIFEST_FORMAT) throw new ManifestError(`format must be "${MANIFEST_FORMAT}", not ${JSON.stringify(m.format)}`);
  if (m.files !== undefined && !isRecord(m.files)) throw new ManifestError(`files must map blob names to file names, not ${JSON.stringify(m.files)?.slice(0, 40)}`);
  const files = (m.files ?? {}) as Record<string, unknown>;
  const blob = async (key: string): Promise<StreamPayload | Uint8Array> =>
    files[key] === undefined ? EMPTY : filePayload(join(dir, safeName(files[key], `files.${key}`)));
  const text = (k: string) => (m[k] === undefined ? EMPTY : fieldBytes(m[k] as TextField, k));
  const os = () => {
    if (m.osVersionField !== undefined) return num(m.osVersionField, 'osVersionField');
    try {
      return packOsVersion(parseOsVersion(optString(m.osVersion, 'osVersion')), parseOsPatchLevel(optString(m.osPatchLevel, 'osPatchLevel')));
    } catch (e) {
      if (e instanceof ManifestError) throw e;
      throw new ManifestError((e as Error).message);
    }
  };
  const common = { headerVersion: num(m.headerVersion, 'headerVersion'), pageSize: num(m.pageSize, 'pageSize'), finalPadding: optNum(m.finalPadding, 'finalPadding', WIDE), tail: await blob('tail') };
  if (m.kind === 'boot') {
    const id = await manifestId(m.id, files, dir);
    const img: BootImage<StreamPayload | Uint8Array> = {
      kind: 'boot',
      ...common,
      kernelAddr: num(m.kernelAddr, 'kernelAddr', 0),
      ramdiskAddr: num(m.ramdiskAddr, 'ramdiskAddr', 0),
      secondAddr: num(m.secondAddr, 'secondAddr', 0),
      tagsAddr: num(m.tagsAddr, 'tagsAddr', 0),
      dtbAddr: num(m.dtbAddr, 'dtbAddr', 0, WIDE),
      osVersion: os(),
      name: text('name'),
      cmdline: text('cmdline'),
      extraCmdline: text('extraCmdline'),
      id,
      reserved: text('reserved'),
      headerSize: optNum(m.headerSize, 'headerSize'),
      recoveryDtboOffset: optNum(m.recoveryDtboOffset, 'recoveryDtboOffset', WIDE),
      kernel: await blob('kernel'),
      ramdisk: await blob('ramdisk'),
      second: await blob('second'),
      dt: await blob('dt'),
      recoveryDtbo: await blob('recoveryDtbo'),
      dtb: await blob('dtb'),
      signature: await blob('signature'),
    };
    return img;
  }
  if (m.kind !== 'vendor_boot') throw new ManifestError(`kind must be "boot" or "vendor_boot", not ${JSON.stringify(m.kind)}`);
  if (!Array.isArray(m.ramdisks)) throw new ManifestError('ramdisks must be a list');
  const ramdisks = [];
  for (const [i, r] of (m.ramdisks as unknown[]).entries()) {
    if (!isRecord(r)) throw new ManifestError(`ramdisks[${i}] must be an object, not ${JSON.stringify(r)?.slice(0, 40)}`);
    const boardId = (r.boardId ?? []) as unknown[];
    if (!Array.isArray(boardId) || boardId.length > 16) throw new ManifestError(`ramdisks[${i}].boardId must be a list of at most 16 numbers`);
    ramdisks.push({
      data: await filePayload(join(dir, safeName(r.file, `ramdisks[${i}].file`))),
      type: num(r.type, `ramdisks[${i}].type`, 1),
      name: r.name === undefined ? EMPTY : fieldBytes(r.name as TextField, `ramdisks[${i}].name`),
      boardId: Array.from({ length: 16 }, (_, k) => num(boardId[k], `ramdisks[${i}].boardId[${k}]`, 0)),
      offset: optNum(r.offset, `ramdisks[${i}].offset`),
    });
  }
  const img: VendorBootImage<StreamPayload | Uint8Array> = {
    kind: 'vendor_boot',
    ...common,
    kernelAddr: num(m.kernelAddr, 'kernelAddr', 0),
    ramdiskAddr: num(m.ramdiskAddr, 'ramdiskAddr', 0),
    tagsAddr: num(m.tagsAddr, 'tagsAddr', 0),
    dtbAddr: num(m.dtbAddr, 'dtbAddr', 0, WIDE),
    cmdline: text('vendorCmdline'),
    name: text('name'),
    headerSize: optNum(m.headerSize, 'headerSize'),
    tableEntrySize: optNum(m.tableEntrySize, 'tableEntrySize'),
    ramdisks,
    ramdiskSection: m.ramdiskSection === undefined ? undefined : await filePayload(join(dir, safeName(m.ramdiskSection, 'ramdiskSection'))),
    dtb: await blob('dtb'),
    bootconfig: await blob('bootconfig'),
  };
  return img;
}
