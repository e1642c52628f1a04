/**
 * Two ways to describe a FIT for `buildFit`: .its text (compiled with our DTS compiler, as mkimage runs
 * dtc; `/incbin/` paths resolve from the .its folder), or a plain object model turned into the tree
 * an equivalent .its would compile to.
 */
import { statSync } from 'node:fs';
import { readTextSync } from '../bytes/input.js';
import { dirname, isAbsolute, join } from 'node:path';
import { propValue, type Fdt, type FdtNode, type FdtProperty } from '../dtb/model.js';
import { compileDts } from '../dtb/dts/compile.js';
import { fileAccessFor } from '../dtb/dts/files.js';
import { filePayload, type Payload, type StreamPayload } from '../bytes/payload.js';
import { joinStrings } from './fit-layout.js';
import type { FitInput } from './fit-write.js';

/** dtc's /incbin/ search: the including file's folder, then each search path (src/dtb/dts/files.ts). */
function findIncbin(name: string, from: string, searchPaths: readonly string[]): string | undefined {
  if (isAbsolute(name)) return name;
  for (const dir of [dirname(from), ...searchPaths]) {
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next folder */
    }
  }
  return undefined;
}

/** A file read only when written out (its size is taken now). */
function lazyFile(path: string): StreamPayload {
  const size = statSync(path).size;
  return { size, async *chunks() { yield* (await filePayload(path)).chunks(); } };
}

const MARK = 'IMGKIT-FIT-INCBIN:';
const marker = (i: number): Uint8Array => propValue.strings(`${MARK}${i}`);
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Compiles .its text as mkimage runs dtc; `/incbin/` paths resolve from the .its folder, then `searchPaths`.
 * An image whose `data` is exactly one whole `/incbin/` file is not read here: it becomes a file
 * payload, hashed and copied in chunks when the FIT is built (the DTS compiler would hold it in memory
 * several times over). Anything else (offsets, concatenations, incbin outside image data) is compiled
 * with the files read, as dtc does.
 * @example
 * const input = fitFromIts('/src/image.its');
 */
export function fitFromIts(name: string, text = readTextSync(name, 'fit', 'latin1'), searchPaths: readonly string[] = []): FitInput {
  const files = fileAccessFor(searchPaths);
  const calls: string[] = [];
  const fast = compileDts({ name, text }, {
    resolveInclude: files.resolveInclude,
    readIncbin: (n, from) => {
      const p = findIncbin(n, from, searchPaths);
      if (p === undefined) return files.readIncbin(n, from); // dtc's error
      calls.push(p);
      return marker(calls.length - 1);
    },
  });
  if (!calls.length) return { fdt: fast };
  const payloads = new Map<string, Payload>();
  const used = new Set<number>();
  const images = fast.root.children.find((c) => c.name === 'images');
  for (const img of images?.children ?? []) {
    const v = img.props.find((p) => p.name === 'data')?.value;
    if (!v) continue;
    const i = calls.findIndex((_, k) => same(v, marker(k)));
    if (i < 0 || used.has(i)) continue;
    used.add(i);
    payloads.set(img.name, lazyFile(calls[i]!));
  }
  if (used.size !== calls.length) return { fdt: compileDts({ name, text }, files) };
  return { fdt: fast, payloads };
}

/** One image of a FIT built from a model. */
export interface FitImageSpec {
  /** Node name under /images ("kernel-1"). */
  readonly name: string;
  readonly description?: string;
  readonly data: Payload;
  /** Short names as in .its files: "kernel", "ramdisk", "flat_dt", … */
  readonly type: string;
  readonly arch?: string;
  readonly os?: string;
  readonly compression?: string;
  readonly load?: number | bigint;
  readonly entry?: number | bigint;
  /** Hash node algorithms, one node each (hash-1, hash-2, …). */
  readonly hashes?: readonly string[];
  /** Image signature nodes (signature-1, …). */
  readonly signatures?: readonly { algo: string; keyNameHint: string }[];
  /** Extra properties, written after the standard ones. */
  readonly props?: readonly FdtProperty[];
}

/** One configuration. */
export interface FitConfigSpec {
  readonly name: string;
  readonly description?: string;
  readonly kernel?: string;
  readonly firmware?: string;
  readonly ramdisk?: string;
  readonly fdt?: readonly string[];
  readonly loadables?: readonly string[];
  readonly compatible?: string;
  readonly signatures?: readonly { algo: string; keyNameHint: string; signImages?: readonly string[] }[];
}

export interface FitSpec {
  /** The root description: U-Boot refuses a FIT without one (fit_check_format), so it is required. */
  readonly description: string;
  /** Cells of `load`/`entry` (default 1; 2 for 64-bit addresses). */
  readonly addressCells?: 1 | 2;
  readonly images: readonly FitImageSpec[];
  readonly configurations: readonly FitConfigSpec[];
  /** Default configuration (default: the first). */
  readonly defaultConfig?: string;
}

const s = (name: string, v: string): FdtProperty => ({ name, value: propValue.strings(v) });

function addr(name: string, v: number | bigint, cells: 1 | 2): FdtProperty {
  const b = BigInt(v);
  if (b < 0n || b >= 1n << BigInt(32 * cells)) throw new RangeError(`${name} 0x${b.toString(16)} does not fit ${cells} cell(s)`);
  return { name, value: cells === 1 ? propValue.cells(Number(b)) : propValue.u64(b) };
}

/**
 * The tree for a model, with properties in the order of U-Boot's example .its files; image data goes
 * to `payloads`, so file-backed payloads are streamed, never loaded.
 * @example
 * const input = fitFromSpec({ description: 'Linux', images: [{ name: 'kernel-1', type: 'kernel', arch: 'arm', os: 'linux', compression: 'none',
 *   load: 0x40008000, entry: 0x40008000, data: zImage, hashes: ['sha256'] }], configurations: [{ name: 'conf-1', kernel: 'kernel-1' }] });
 */
export function fitFromSpec(spec: FitSpec): FitInput {
  const cells = spec.addressCells ?? 1;
  const payloads = new Map<string, Payload>();
  const images: FdtNode[] = spec.images.map((im) => {
    if (payloads.has(im.name)) throw new RangeError(`two images named ${im.name}`);
    payloads.set(im.name, im.data);
    const props: FdtProperty[] = [];
    if (im.description !== undefined) props.push(s('description', im.description));
    props.push({ name: 'data', value: new Uint8Array(0) });
    props.push(s('type', im.type));
    if (im.arch !== undefined) props.push(s('arch', im.arch));
    if (im.os !== undefined) props.push(s('os', im.os));
    if (im.compression !== undefined) props.push(s('compression', im.compression));
    if (im.load !== undefined) props.push(addr('load', im.load, cells));
    if (im.entry !== undefined) props.push(addr('entry', im.entry, cells));
    for (const p of im.props ?? []) props.push(p);
    const children: FdtNode[] = [
      ...(im.hashes ?? []).map((a, i) => ({ name: `hash-${i + 1}`, props: [s('algo', a)], children: [] })),
      ...(im.signatures ?? []).map((g, i) => ({ name: `signature-${i + 1}`, props: [s('algo', g.algo), s('key-name-hint', g.keyNameHint)], children: [] })),
    ];
    return { name: im.name, props, children };
  });
  const confs: FdtNode[] = spec.configurations.map((c) => {
    const props: FdtProperty[] = [];
    if (c.description !== undefined) props.push(s('description', c.description));
    if (c.kernel !== undefined) props.push(s('kernel', c.kernel));
    if (c.firmware !== undefined) props.push(s('firmware', c.firmware));
    if (c.fdt?.length) props.push({ name: 'fdt', value: joinStrings(c.fdt) });
    if (c.ramdisk !== undefined) props.push(s('ramdisk', c.ramdisk));
    if (c.loadables?.length) props.push({ name: 'loadables', value: joinStrings(c.loadables) });
    if (c.compatible !== undefined) props.push(s('compatible', c.compatible));
    const children = (c.signatures ?? []).map((g, i) => ({
      name: `signature-${i + 1}`,
      props: [s('algo', g.algo), s('key-name-hint', g.keyNameHint), ...(g.signImages ? [{ name: 'sign-images', value: joinStrings(g.signImages) }] : [])],
      children: [],
    }));
    return { name: c.name, props, children };
  });
  const def = spec.defaultConfig ?? spec.configurations[0]?.name;
  const rootProps: FdtProperty[] = [];
  rootProps.push(s('description', spec.description));
  rootProps.push({ name: '#address-cells', value: propValue.cells(cells) });
  const fdt: Fdt = {
    version: 17, lastCompVersion: 16, bootCpuidPhys: 0, reserve: [],
    root: {
      name: '', props: rootProps,
      children: [
        { name: 'images', props: [], children: images },
        { name: 'configurations', props: def === undefined ? [] : [s('default', def)], children: confs },
      ],
    },
  };
  return { fdt, payloads };
}
