/**
 * mkimage's rules for legacy images (U-Boot v2023.01 tools/mkimage.c, tools/default_image.c,
 * tools/imagetool.c), so that `uimage pack` given mkimage's arguments writes mkimage's bytes:
 * defaults, `-x` (XIP), `-s` (no data), `-O tee`, `-T firmware_ivt`, and SOURCE_DATE_EPOCH.
 */
import { EMPTY, filePayload, payloadSize, type Payload, type StreamPayload } from '../bytes/payload.js';
import { HEADER_SIZE, IVT_ALIGN, IVT_CSF_EXTRA, IVT_SIZE, OPTEE_HEADER_SIZE, OPTEE_INIT_LOAD_ADDR_LO } from './layout.js';
import { concatPayloads, legacyData, type LegacyImageSpec } from './legacy-write.js';
import {
  IH_ARCH_PPC, IH_COMP_GZIP, IH_OS_LINUX, IH_OS_TEE, IH_TYPE_FIRMWARE_IVT, IH_TYPE_INVALID, IH_TYPE_KERNEL, IH_TYPE_KERNEL_NOLOAD,
  IH_TYPE_FLATDT, IH_TYPE_MULTI, IH_TYPE_SCRIPT, nameOf,
} from './tables.js';

/** mkimage's defaults when a flag is absent: Linux, PowerPC, kernel, gzip (tools/mkimage.c `params`). */
export const MKIMAGE_DEFAULTS = { os: IH_OS_LINUX, arch: IH_ARCH_PPC, type: IH_TYPE_KERNEL, comp: IH_COMP_GZIP } as const;

/** Whether mkimage writes `type` as a legacy image (default_image.c image_check_image_types). */
export function isLegacyType(type: number): boolean {
  return (type > IH_TYPE_INVALID && type < IH_TYPE_FLATDT) || type === IH_TYPE_KERNEL_NOLOAD || type === IH_TYPE_FIRMWARE_IVT;
}

/** A mistake in what was asked (bad flag combination, unusable input file): the CLI reports it with exit 2 or 1. */
export class MkimageError extends Error {
  override readonly name = 'MkimageError';
  constructor(message: string, readonly exitCode: 1 | 2) {
    super(message);
  }
}

/**
 * ih_time as mkimage computes it: SOURCE_DATE_EPOCH read with strtol(…, 10) (leading blanks and a
 * sign allowed, digits up to the first non-digit, 0 when there are none, saturated at ±2^63), and 0
 * with a warning when gmtime() cannot represent it; `fallback` (mkimage: the output's mtime) when unset.
 */
export function sourceDateEpoch(value: string | undefined, fallback: number): { time: number; warning?: string } {
  if (value === undefined) return { time: fallback };
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(value)!;
  let t = m[2] ? BigInt(m[2]) : 0n;
  if (m[1] === '-') t = -t;
  const LONG_MAX = 2n ** 63n - 1n;
  if (t > LONG_MAX) t = LONG_MAX;
  if (t < -LONG_MAX - 1n) t = -LONG_MAX - 1n;
  // glibc gmtime fails when the year does not fit an int (tm_year = year - 1900)
  if (t > 67_768_036_191_676_799n || t < -67_768_040_609_740_800n) return { time: 0, warning: 'SOURCE_DATE_EPOCH is not valid' };
  return { time: Number(BigInt.asUintN(32, t)) };
}

export interface MkimageOptions {
  os?: number;
  arch?: number;
  type?: number;
  comp?: number;
  /** -a; default 0. */
  load?: number;
  /** -e; default the load address (+64 with -x). */
  ep?: number;
  /** -n; default "". */
  name?: string | Uint8Array;
  /** -d: one file, or for multi/script the files of `-d a:b:c`. Payloads are taken as given. */
  data: readonly Payload[];
  /** -x: execute in place; the first 64 bytes of the data must be 0xff and are dropped (the header takes their place). */
  xip?: boolean;
  /** -s: write the header only. */
  skipData?: boolean;
  /** ih_time (see {@link sourceDateEpoch}). */
  time: number;
}

/**
 * The image mkimage would write for these options. Payload contents are read only where mkimage
 * looks at them (-x checks the first 64 bytes, -O tee reads the OP-TEE header).
 */
export async function mkimageSpec(o: MkimageOptions): Promise<LegacyImageSpec> {
  const type = o.type ?? MKIMAGE_DEFAULTS.type;
  const os = o.os ?? MKIMAGE_DEFAULTS.os;
  if (type === IH_TYPE_FLATDT) throw new MkimageError('type flat_dt is a FIT image, not a legacy uImage', 2);
  if (!isLegacyType(type)) throw new MkimageError(`type ${nameOf('type', type) ?? type} is not a legacy uImage type: mkimage writes it in its own format`, 2);
  const multi = type === IH_TYPE_MULTI || type === IH_TYPE_SCRIPT;
  if (!multi && o.data.length !== 1) throw new MkimageError('-d takes one file for this type (use -T multi for several)', 2);
  if (multi && o.data.length === 0) throw new MkimageError('-d needs at least one file', 2);
  if (o.xip && multi) throw new MkimageError('-x with -T multi/script: mkimage writes a size table that does not match the data; not supported', 2);
  const load = o.load ?? 0;
  let ep = o.ep ?? load + (o.xip ? HEADER_SIZE : 0);
  if (ep > 0xffff_ffff) ep %= 2 ** 32; // mkimage: ulong ep, stored as u32
  let addr = load;

  let parts: Payload[];
  if (o.skipData) parts = multi ? [] : [EMPTY];
  else {
    parts = [];
    for (const [i, p] of o.data.entries()) {
      if (payloadSize(p) === 0) throw new MkimageError(`input file ${i} is empty`, 1);
      parts.push(o.xip ? await dropXipHead(p) : p);
    }
  }
  let sizeField: number | undefined;
  if (type === IH_TYPE_FIRMWARE_IVT && !o.skipData) {
    // mkimage sizes the padding from the input file, even when -x dropped 64 bytes of it
    parts = [withIvt(parts[0]!, load, HEADER_SIZE + payloadSize(o.data[0]!))];
    sizeField = payloadSize(parts[0]!) + IVT_CSF_EXTRA;
  } else if (type === IH_TYPE_FIRMWARE_IVT) sizeField = IVT_CSF_EXTRA;

  if (os === IH_OS_TEE) {
    // default_image.c: load and entry come from an OP-TEE header read at the start of the data as
    // laid out (for multi/script that is the size table). mkimage reads it from its memory map of the
    // output, so bytes past the end of a short image read as 0: do the same.
    const laid = o.skipData ? [] : legacyData({ type, parts });
    const head = new Uint8Array(OPTEE_HEADER_SIZE);
    head.set(await headOf(concatPayloads(laid), OPTEE_HEADER_SIZE));
    ep = new DataView(head.buffer).getUint32(OPTEE_INIT_LOAD_ADDR_LO, true);
    addr = (ep - OPTEE_HEADER_SIZE + 2 ** 32) % 2 ** 32;
  }
  const spec: LegacyImageSpec = {
    os,
    arch: o.arch ?? MKIMAGE_DEFAULTS.arch,
    type,
    comp: o.comp ?? MKIMAGE_DEFAULTS.comp,
    load: addr,
    ep,
    time: o.time,
    name: o.name ?? '',
    parts: o.skipData ? [EMPTY] : parts,
    // -s writes the header alone: no size table even for multi/script
    ...(o.skipData ? { raw: true } : {}),
    ...(sizeField === undefined ? {} : { sizeField }),
  };
  return spec;
}

/** The first `n` bytes of a payload (fewer if it is shorter). */
async function headOf(p: Payload, n: number): Promise<Uint8Array> {
  if (p instanceof Uint8Array) return p.subarray(0, n);
  const out = new Uint8Array(Math.min(n, p.size));
  let at = 0;
  for await (const c of p.chunks()) {
    const take = c.subarray(0, out.length - at);
    out.set(take, at);
    at += take.length;
    if (at === out.length) break;
  }
  return out;
}

async function dropXipHead(p: Payload): Promise<Payload> {
  if (payloadSize(p) < HEADER_SIZE) throw new MkimageError('the input is too small for XIP (it must start with 64 bytes of 0xff)', 1);
  const head = await headOf(p, HEADER_SIZE);
  if (head.some((b) => b !== 0xff)) throw new MkimageError('the input has an invalid buffer for XIP: its first 64 bytes must all be 0xff', 1);
  if (p instanceof Uint8Array) return p.subarray(HEADER_SIZE);
  return skipPayload(p, HEADER_SIZE);
}

function skipPayload(p: StreamPayload, n: number): StreamPayload {
  return {
    size: p.size - n,
    async *chunks() {
      let skip = n;
      for await (const c of p.chunks()) {
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        yield skip ? c.subarray(skip) : c;
        skip = 0;
      }
    },
  };
}

/** tools/mkimage.c, IH_TYPE_FIRMWARE_IVT: pad the file to 4 KiB with (offset & 0xff) bytes, then a 32-byte IVT. */
function withIvt(data: Payload, load: number, fileSize: number): Payload {
  const aligned = Math.ceil(fileSize / IVT_ALIGN) * IVT_ALIGN;
  const pad = new Uint8Array(aligned - fileSize);
  for (let i = 0; i < pad.length; i++) pad[i] = (fileSize + i) % 256; // write(ifd, (char *)&i, 1): the low byte of i
  const ivt = new Uint8Array(IVT_SIZE);
  const dv = new DataView(ivt.buffer);
  const u32 = (v: number) => ((v % 2 ** 32) + 2 ** 32) % 2 ** 32;
  ivt.set([0xd1, 0x00, 0x20, 0x40]); // struct ivt_header { tag 0xd1, u16 length 0x2000 (host LE), version 0x40 }
  dv.setUint32(4, u32(load), true); // entry
  dv.setUint32(20, u32(load + aligned - HEADER_SIZE), true); // self
  dv.setUint32(24, u32(load + aligned - HEADER_SIZE + 0x20), true); // csf
  if (data instanceof Uint8Array) {
    const out = new Uint8Array(data.length + pad.length + ivt.length);
    out.set(data);
    out.set(pad, data.length);
    out.set(ivt, data.length + pad.length);
    return out;
  }
  return concatPayloads([data, pad, ivt]);
}

/** `-d a:b:c` as mkimage splits it: on every ':' for multi and script images, not at all otherwise. */
export function splitDataArg(arg: string, type: number): string[] {
  return type === IH_TYPE_MULTI || type === IH_TYPE_SCRIPT ? arg.split(':') : [arg];
}

/** Files as payloads, in order. */
export async function filePayloads(paths: readonly string[]): Promise<Payload[]> {
  const out: Payload[] = [];
  for (const p of paths) out.push(await filePayload(p));
  return out;
}

