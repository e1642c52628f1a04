/**
 * FIT reader: the blob is checked and decoded (iteratively, depth-bounded) by ../dtb, then every image,
 * hash, signature and configuration is resolved up front, so a listing, a verification or an extraction
 * never meets a dangling reference: hash nodes without `algo`, data past the end of the file,
 * configurations naming images that do not exist are FormatErrors at open time. Image data is never
 * loaded: it is a payload over the input (internal: a range of the blob; external: after it).
 */
import { FormatError } from '../bytes/errors.js';
import { limit } from '../bytes/limits.js';
import { rangePayload, type StreamPayload } from '../bytes/payload.js';
import type { RandomAccess } from '../bytes/random.js';
import { asCells, type FdtNode, type FdtProperty } from '../dtb/model.js';
import { decodeFdt, decodeHeader } from '../dtb/read.js';
import { FIT_HASH_NODENAME, FIT_SIG_NODENAME, FORMAT, P, splitStrings } from './fit-layout.js';
import { HASH_ALGOS } from './fit-hash.js';

export interface FitReadOptions {
  /** Largest blob (totalsize) accepted; internal data counts. Default 1 GiB. */
  readonly maxBlob?: number;
  /** Deepest node nesting accepted. Default 16 (a FIT needs 4). */
  readonly maxDepth?: number;
  /** Most images and most configurations accepted. Default 4096. */
  readonly maxNodes?: number;
}

export interface FitHash {
  readonly node: string;
  readonly algo: string;
  readonly value: Uint8Array | undefined;
  /** `uboot-ignore` set: U-Boot skips it. */
  readonly ignore: boolean;
}

export interface FitSignature {
  /** Full path of the signature node. */
  readonly path: string;
  readonly node: string;
  readonly algo: string | undefined;
  readonly keyNameHint: string | undefined;
  readonly required: boolean;
  readonly padding: string | undefined;
  readonly value: Uint8Array | undefined;
  readonly timestamp: number | undefined;
  readonly hashedNodes: string[] | undefined;
  readonly hashedStrings: number | undefined;
  readonly signImages: string[] | undefined;
}

export interface FitImage {
  readonly index: number;
  readonly name: string;
  readonly description: string | undefined;
  readonly type: string | undefined;
  readonly arch: string | undefined;
  readonly os: string | undefined;
  readonly compression: string | undefined;
  readonly load: bigint | undefined;
  readonly entry: bigint | undefined;
  /** Where the data is: internal (inside the blob), data-offset or data-position. */
  readonly dataKind: 'internal' | 'offset' | 'position';
  /** Absolute offset of the data in the file, and its size. */
  readonly dataAt: number;
  readonly dataSize: number;
  readonly hashes: readonly FitHash[];
  readonly signatures: readonly FitSignature[];
  /** The image node as decoded (values are views of the blob). */
  readonly node: FdtNode;
}

export interface FitConfig {
  readonly index: number;
  readonly name: string;
  readonly description: string | undefined;
  /** Image references by property (kernel, fdt, ramdisk, loadables, firmware, fpga, …) → image names. */
  readonly refs: ReadonlyMap<string, readonly string[]>;
  readonly compatible: string | undefined;
  readonly signatures: readonly FitSignature[];
  readonly node: FdtNode;
}

/** An opened FIT. */
export interface OpenedFit {
  readonly ra: RandomAccess;
  /** The blob (header to totalsize). */
  readonly blob: Uint8Array;
  readonly totalSize: number;
  readonly root: FdtNode;
  readonly description: string | undefined;
  readonly timestamp: number | undefined;
  readonly images: readonly FitImage[];
  readonly configs: readonly FitConfig[];
  readonly defaultConfig: string | undefined;
  /** The data of an image as a payload over the input (zero-copy range reads). */
  data(image: FitImage): StreamPayload;
}

/** Bytes of a v17 FDT header (enough to find totalsize). */
const FDT_V17_SIZE = 40;

/** Configuration properties that name images (boot/image-fit.c fit_conf_get_prop_node users). */
const IMAGE_REFS = [P.kernel, P.fdt, P.ramdisk, P.loadables, P.firmware, P.fpga, 'standalone', 'setup'] as const;

const str = (v: Uint8Array | undefined): string | undefined => {
  if (!v) return undefined;
  const nul = v.indexOf(0);
  return new TextDecoder('latin1').decode(nul < 0 ? v : v.subarray(0, nul));
};
const get = (n: FdtNode, name: string): Uint8Array | undefined => n.props.find((p: FdtProperty) => p.name === name)?.value;

/** A node name without its unit address. */
const baseName = (name: string): string => name.split('@')[0]!;

/** Absolute offset of a value view inside the blob. */
const offsetIn = (blob: Uint8Array, v: Uint8Array): number => v.byteOffset - blob.byteOffset;

function u32(n: FdtNode, name: string, blob: Uint8Array): number | undefined {
  const v = get(n, name);
  if (v === undefined) return undefined;
  if (v.length !== 4) throw new FormatError(FORMAT, 'BAD_FIELD', offsetIn(blob, v), `Cannot parse ${name} of ${n.name}: ${v.length} bytes, not a u32`);
  return asCells(v)![0]!;
}

function address(n: FdtNode, name: string, blob: Uint8Array): bigint | undefined {
  const v = get(n, name);
  if (v === undefined) return undefined;
  if (v.length !== 4 && v.length !== 8) throw new FormatError(FORMAT, 'BAD_FIELD', offsetIn(blob, v), `Cannot parse ${name} of ${n.name}: ${v.length} bytes, not 1 or 2 cells`);
  const dv = new DataView(v.buffer, v.byteOffset, v.length);
  return v.length === 4 ? BigInt(dv.getUint32(0)) : dv.getBigUint64(0);
}

function signature(n: FdtNode, path: string, blob: Uint8Array): FitSignature {
  const hs = get(n, P.hashedStrings);
  if (hs && hs.length !== 8) throw new FormatError(FORMAT, 'BAD_FIELD', offsetIn(blob, hs), `Cannot parse hashed-strings of ${path}: ${hs.length} bytes, not 2 cells`);
  const hn = get(n, P.hashedNodes);
  const si = get(n, P.signImages);
  return {
    path, node: n.name,
    algo: str(get(n, P.algo)),
    keyNameHint: str(get(n, P.keyHint)),
    required: get(n, P.required) !== undefined,
    padding: str(get(n, 'padding')),
    value: get(n, P.value),
    timestamp: u32(n, P.timestamp, blob),
    hashedNodes: hn && splitStrings(hn),
    hashedStrings: hs && asCells(hs)![1],
    signImages: si && splitStrings(si),
  };
}

/**
 * Opens a FIT for listing, verification and extraction.
 * @example
 * const fit = await openFit(await fileAccess('image.itb', 'fit'));
 * for (const im of fit.images) console.log(im.name, im.dataSize);
 */
export async function openFit(ra: RandomAccess, opts: FitReadOptions = {}): Promise<OpenedFit> {
  const head = await ra.readAt(0, Math.min(ra.size, FDT_V17_SIZE));
  const h = decodeHeader(head, ra.size);
  limit(h.totalSize, opts.maxBlob ?? 2 ** 30, 'FIT blob size', FORMAT, 4);
  const blob = await ra.readAt(0, h.totalSize);
  const fdt = decodeFdt(blob, { maxDepth: opts.maxDepth ?? 16 });
  const root = fdt.root;
  const maxNodes = opts.maxNodes ?? 4096;
  const imagesNode = root.children.find((c) => c.name === 'images');
  if (!imagesNode) throw new FormatError(FORMAT, 'BAD_FIELD', h.offDtStruct, "Cannot parse FIT: no '/images' node");
  limit(imagesNode.children.length, maxNodes, 'number of images', FORMAT, h.offDtStruct);
  const dataBase = Math.ceil(h.totalSize / 4) * 4; // fit_image_get_data_offset: ALIGN(totalsize, 4)
  const images: FitImage[] = imagesNode.children.map((n, index) => {
    const path = `/images/${n.name}`;
    const data = get(n, P.data);
    const off = u32(n, P.dataOffset, blob), pos = u32(n, P.dataPosition, blob), size = u32(n, P.dataSize, blob);
    let dataKind: FitImage['dataKind'], dataAt: number, dataSize: number;
    if (off !== undefined || pos !== undefined) {
      if (size === undefined) throw new FormatError(FORMAT, 'BAD_FIELD', h.offDtStruct, `Cannot parse ${path}: external data without data-size`);
      dataKind = pos !== undefined ? 'position' : 'offset';
      dataAt = pos !== undefined ? pos : dataBase + off!;
      dataSize = size;
      if (dataAt + dataSize > ra.size)
        throw new FormatError(FORMAT, 'TRUNCATED', offsetIn(blob, get(n, pos !== undefined ? P.dataPosition : P.dataOffset)!),
          `Cannot read data of ${path}: ${dataSize} bytes at 0x${dataAt.toString(16)} run past the end of the file (0x${ra.size.toString(16)})`);
    } else if (data !== undefined) {
      dataKind = 'internal';
      dataAt = offsetIn(blob, data);
      dataSize = data.length;
    } else throw new FormatError(FORMAT, 'BAD_FIELD', h.offDtStruct, `Cannot parse ${path}: no data, data-offset or data-position`);
    const hashes: FitHash[] = [];
    const signatures: FitSignature[] = [];
    for (const c of n.children) {
      if (c.name.startsWith(FIT_HASH_NODENAME)) {
        const algoV = get(c, P.algo);
        if (!algoV) throw new FormatError(FORMAT, 'BAD_FIELD', h.offDtStruct, `Cannot parse ${path}/${c.name}: hash node without algo`);
        const algo = str(algoV)!;
        const value = get(c, P.value);
        if (value && HASH_ALGOS[algo] !== undefined && value.length !== HASH_ALGOS[algo])
          throw new FormatError(FORMAT, 'BAD_FIELD', offsetIn(blob, value), `Cannot parse ${path}/${c.name}: ${algo} value is ${value.length} bytes, not ${HASH_ALGOS[algo]}`);
        hashes.push({ node: c.name, algo, value, ignore: get(c, P.ignore) !== undefined });
      } else if (c.name.startsWith(FIT_SIG_NODENAME)) signatures.push(signature(c, `${path}/${c.name}`, blob));
    }
    return {
      index, name: n.name, description: str(get(n, P.description)), type: str(get(n, P.type)), arch: str(get(n, P.arch)),
      os: str(get(n, P.os)), compression: str(get(n, P.compression)), load: address(n, P.load, blob), entry: address(n, P.entry, blob),
      dataKind, dataAt, dataSize, hashes, signatures, node: n,
    };
  });
  // an image is named by its name, or without its unit address ("name" finds "name@unit", as libfdt does)
  const names = new Set<string>();
  for (const im of images) names.add(im.name).add(baseName(im.name));
  const confsNode = root.children.find((c) => c.name === 'configurations');
  const configs: FitConfig[] = (confsNode?.children ?? []).map((n, index) => {
    const refs = new Map<string, string[]>();
    for (const r of IMAGE_REFS) {
      const v = get(n, r);
      if (!v) continue;
      const list = splitStrings(v);
      for (const name of list)
        if (!names.has(name))
          throw new FormatError(FORMAT, 'BAD_FIELD', offsetIn(blob, v), `Cannot parse /configurations/${n.name}: ${r} names image '${name}', which does not exist`);
      refs.set(r, list);
    }
    return {
      index, name: n.name, description: str(get(n, P.description)), refs, compatible: str(get(n, 'compatible')),
      signatures: n.children.filter((c) => c.name.startsWith(FIT_SIG_NODENAME)).map((c) => signature(c, `/configurations/${n.name}/${c.name}`, blob)),
      node: n,
    };
  });
  if (confsNode) limit(configs.length, maxNodes, 'number of configurations', FORMAT, h.offDtStruct);
  const def = confsNode && str(get(confsNode, P.default));
  if (def !== undefined && !configs.some((c) => c.name === def))
    throw new FormatError(FORMAT, 'BAD_FIELD', offsetIn(blob, get(confsNode!, P.default)!), `Cannot parse /configurations: default '${def}' does not exist`);
  return {
    ra, blob, totalSize: h.totalSize, root,
    description: str(get(root, P.description)),
    timestamp: u32(root, P.timestamp, blob),
    images, configs, defaultConfig: def,
    data: (im) => rangePayload(ra, im.dataAt, im.dataSize, FORMAT),
  };
}

/** Images by name and by name without unit address (the first of each), per image list. */
const nameIndex = new WeakMap<readonly FitImage[], { exact: Map<string, FitImage>; base: Map<string, FitImage> }>();

/** The image a configuration property names ("name" also finds "name@unit", as libfdt does). */
export function imageByName(fit: OpenedFit, name: string): FitImage | undefined {
  let ix = nameIndex.get(fit.images);
  if (!ix) {
    ix = { exact: new Map(), base: new Map() };
    for (const im of fit.images) {
      if (!ix.exact.has(im.name)) ix.exact.set(im.name, im);
      if (!ix.base.has(baseName(im.name))) ix.base.set(baseName(im.name), im);
    }
    nameIndex.set(fit.images, ix);
  }
  return ix.exact.get(name) ?? (name.includes('@') ? undefined : ix.base.get(name));
}
