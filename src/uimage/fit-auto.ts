/**
 * `mkimage -f auto` (U-Boot v2023.01 tools/fit_image.c fit_build): a FIT made from the command line —
 * the `-d` image, each `-b` device tree and an optional `-i` ramdisk, one configuration per device
 * tree — written with libfdt's sequential-write API. That API grows the strings block downwards, so
 * the block is in reverse first-use order, and its header keeps last_comp_version 2.
 */
import { propValue, type Fdt, type FdtNode, type FdtProperty } from '../dtb/model.js';
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_PROP } from '../dtb/layout.js';
import type { Payload } from '../bytes/payload.js';
import { MKIMAGE_VERSION } from './fit-layout.js';
import { longNameOf, nameOf } from './tables.js';
import type { FitInput } from './fit-write.js';

export interface FitAutoOptions {
  /** -T (default kernel), -A (default ppc), -O (default linux), -C (default gzip): numeric ids. */
  readonly type: number;
  readonly arch: number;
  readonly os: number;
  readonly comp: number;
  /** -a, -e (default the load address). */
  readonly load: number;
  readonly entry?: number;
  /** -n (default ""). */
  readonly name?: string;
  /** -d */
  readonly image: Payload;
  /** -b files, in order: the description is each file's base name without extension. */
  readonly dtbs?: readonly { path: string; data: Payload }[];
  /** -i */
  readonly ramdisk?: Payload;
  /** The `creator` version string (default "2023.01"). */
  readonly version?: string;
}

const s = (name: string, v: string): FdtProperty => ({ name, value: propValue.strings(v) });
const u32 = (name: string, v: number): FdtProperty => ({ name, value: propValue.cells(v) });
const data = (): FdtProperty => ({ name: 'data', value: new Uint8Array(0) });
const hash = (): FdtNode => ({ name: 'hash-1', props: [s('algo', 'crc32')], children: [] });

/** tools/fit_image.c get_basename: after the last '/', up to the last '.' (of the whole path), at most 99 bytes. */
function baseName(path: string): string {
  const start = path.lastIndexOf('/') + 1;
  const dot = path.lastIndexOf('.');
  const end = dot >= 0 ? dot : path.length;
  return path.slice(start, Math.max(start, end)).slice(0, 99);
}

/**
 * The FIT `mkimage -f auto` builds, ready for `buildFit` (which adds the timestamp and hash values).
 * @example
 * const input = fitAuto({ type: 2, arch: 2, os: 5, comp: 0, load: 0x40008000, image: zImage, dtbs: [{ path: 'board.dtb', data: dtb }] });
 */
export function fitAuto(o: FitAutoOptions): FitInput {
  const typeName = nameOf('type', o.type) ?? 'invalid';
  const name = (cat: 'arch' | 'os' | 'comp', id: number) => nameOf(cat, id) ?? 'invalid';
  const payloads = new Map<string, Payload>();
  const main = `${typeName}-1`;
  payloads.set(main, o.image);
  const images: FdtNode[] = [{
    name: main,
    props: [s('description', o.name ?? ''), s('type', typeName), s('arch', name('arch', o.arch)), s('os', name('os', o.os)),
      s('compression', name('comp', o.comp)), u32('load', o.load), u32('entry', o.entry ?? o.load), data()],
    children: [hash()],
  }];
  const dtbs = o.dtbs ?? [];
  dtbs.forEach((d, i) => {
    const n = `fdt-${i + 1}`;
    payloads.set(n, d.data);
    images.push({ name: n, props: [s('description', baseName(d.path)), data(), s('type', 'flat_dt'), s('arch', name('arch', o.arch)), s('compression', 'none')], children: [hash()] });
  });
  if (o.ramdisk !== undefined) {
    payloads.set('ramdisk-1', o.ramdisk);
    images.push({ name: 'ramdisk-1', props: [s('type', 'ramdisk'), s('os', name('os', o.os)), s('arch', name('arch', o.arch)), data()], children: [hash()] });
  }
  const confs: FdtNode[] = dtbs.map((d, i) => ({
    name: `conf-${i + 1}`,
    props: [s('description', baseName(d.path)), s(typeName, main), s('loadables', main), ...(o.ramdisk !== undefined ? [s('ramdisk', 'ramdisk-1')] : []), s('fdt', `fdt-${i + 1}`)],
    children: [],
  }));
  if (!confs.length) confs.push({ name: 'conf-1', props: [s(typeName, main), ...(o.ramdisk !== undefined ? [s('ramdisk', 'ramdisk-1')] : [])], children: [] });
  const root: FdtNode = {
    name: '',
    props: [s('description', `${longNameOf('type', o.type)} image with one or more FDT blobs`), s('creator', `U-Boot mkimage ${o.version ?? MKIMAGE_VERSION}`), u32('#address-cells', 1)],
    children: [{ name: 'images', props: [], children: images }, { name: 'configurations', props: [s('default', 'conf-1')], children: confs }],
  };
  const fdt: Fdt = { version: 17, lastCompVersion: 2, bootCpuidPhys: 0, reserve: [], root };
  return { fdt, payloads, encode: encodeSequential };
}

/**
 * A tree as libfdt's sequential-write API lays it out (fdt_create … fdt_finish): header, one empty
 * memreserve entry, structure block, strings block with each new name put in front of the earlier ones
 * (a name found anywhere in the block, as a suffix too, is reused); last_comp_version 2.
 */
export function encodeSequential(fdt: Fdt): Uint8Array {
  let strings = '';
  const struct: number[] = [];
  const words: { at: number; neg: number }[] = [];
  const u32 = (v: number) => struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const pad = () => { while (struct.length % 4) struct.push(0); };
  const nameOff = (n: string): number => {
    const hit = strings.indexOf(`${n}\0`);
    if (hit >= 0) return hit - strings.length; // offsets count back from the end while the block grows downwards
    strings = `${n}\0${strings}`;
    return -strings.length;
  };
  const walk = (node: FdtNode): void => {
    u32(FDT_BEGIN_NODE);
    for (let i = 0; i < node.name.length; i++) struct.push(node.name.charCodeAt(i) & 0xff);
    struct.push(0);
    pad();
    for (const p of node.props) {
      u32(FDT_PROP);
      u32(p.value.length);
      words.push({ at: struct.length, neg: nameOff(p.name) });
      u32(0);
      for (const b of p.value) struct.push(b);
      pad();
    }
    for (const c of node.children) walk(c);
    u32(FDT_END_NODE);
  };
  walk(fdt.root);
  u32(FDT_END);
  const offStruct = 40 + 16;
  const offStrings = offStruct + struct.length;
  const out = new Uint8Array(offStrings + strings.length);
  const dv = new DataView(out.buffer);
  [FDT_MAGIC, out.length, offStruct, offStrings, 40, 17, fdt.lastCompVersion, fdt.bootCpuidPhys, strings.length, struct.length].forEach((v, i) => dv.setUint32(i * 4, v));
  out.set(struct, offStruct);
  for (const w of words) dv.setUint32(offStruct + w.at, w.neg + strings.length);
  for (let i = 0; i < strings.length; i++) out[offStrings + i] = strings.charCodeAt(i);
  return out;
}
