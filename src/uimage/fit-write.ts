/**
 * FIT writer with `mkimage -f` 2023.01's bytes (tools/fit_image.c fit_handle_file, tools/image-host.c).
 *
 * mkimage edits the compiled .its in place with libfdt: `timestamp` first in the root, each hash
 * node's `value` first in its node, signatures, public keys in the `-K` blob, retrying with 1024 more
 * bytes of free space each time one of them runs out. The same edits are replayed here on the blob
 * with every image's `data` emptied (a "phantom"): data never moves through libfdt, only its length
 * matters, so the bytes come out the same while images stream from their payloads at write time.
 * libfdt's stale bytes (padding after a value of odd length keeps what the memmove left) come from
 * src/dtb/inplace.ts, which reproduces them.
 */
import { FormatError } from '../bytes/errors.js';
import { alignUp, padding } from '../bytes/limits.js';
import { memorySink, writeZeros, pipeInto, type ByteSink } from '../bytes/sink.js';
import { payloadBytes, payloadChunks, payloadSize, type Payload } from '../bytes/payload.js';
import type { Fdt, FdtNode } from '../dtb/model.js';
import { FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP } from '../dtb/layout.js';
import { encodeFdt } from '../dtb/write.js';
import { InPlaceFdt, LibfdtError, cString } from '../dtb/inplace.js';
import {
  EXTERNAL_ALIGN, FIT_CIPHER_NODENAME, FIT_HASH_NODENAME, FIT_SIG_NODENAME, FORMAT, MKIMAGE_VERSION, P, SIZE_INC_MAX,
  SIZE_INC_STEP, EXCLUDED_FROM_SIGNATURE, be32, cstr, splitStrings,
} from './fit-layout.js';
import { HASH_ALGOS, hashPayload } from './fit-hash.js';
import { findRegions, regionBytes } from './fit-regions.js';
import { ecdsaKeyProps, FitSignError, loadSigningKey, rsaKeyProps, signData, type FitSigningKey } from './fit-sign.js';
import { concat } from '../bytes/source.js';

/** A FIT to build: the tree (as compiled from an .its) and the data of each image by node name. */
export interface FitInput {
  readonly fdt: Fdt;
  /** Image data by `/images` node name; an image absent here uses its `data` property's value. */
  readonly payloads?: ReadonlyMap<string, Payload>;
  /** How the tree is first laid out (default dtc's, as for an .its; `-f auto` uses libfdt's sequential writer). */
  readonly encode?: (fdt: Fdt) => Uint8Array;
}

export interface FitBuildOptions {
  /** The root `timestamp` (mkimage: SOURCE_DATE_EPOCH, else the file's mtime). */
  readonly time: number;
  /** Signature `timestamp`s; default `time` (mkimage: SOURCE_DATE_EPOCH, else now). */
  readonly signTime?: number;
  /** -k: folder of `<hint>.key`/`.crt` (RSA) and `<hint>.pem` (ECDSA). Without it signature nodes are left alone. */
  readonly keydir?: string;
  /** -K: the control blob that receives the public keys; the result carries it back as `keyBlob`. */
  readonly keyBlob?: Uint8Array;
  /** -r: mark the keys written into `keyBlob` as required. */
  readonly requireKeys?: boolean;
  /** -c: comment written into each signature node. */
  readonly comment?: string;
  /** -o: signature algorithm overriding each node's `algo` (and written into it). */
  readonly algo?: string;
  /** -E: data after the blob instead of inside it. */
  readonly external?: boolean;
  /** -B: alignment of the blob's end and of each image in external data (default 4). */
  readonly align?: number;
  /** -p: external data at this absolute offset (`data-position`) rather than after the blob. */
  readonly position?: number;
  /** The `signer-version` written into signatures (default "2023.01", the mkimage this matches). */
  readonly signerVersion?: string;
  /** Called for what mkimage prints but does not fail on (a signing key that is missing). */
  readonly onWarning?: (message: string) => void;
}

/** A build mistake mkimage also refuses (no /images, an image without data, an unknown hash, …). */
export class FitBuildError extends Error {
  override readonly name = 'FitBuildError';
}

/** A FIT ready to be written: its blob (with images emptied when internal) and where the data goes. */
export interface BuiltFit {
  /** Total bytes `writeFit` writes. */
  readonly size: number;
  /** The -K blob with the public keys added (undefined without `keyBlob`). */
  readonly keyBlob: Uint8Array | undefined;
  /** Image names in node order with their data sizes and, for external data, their offsets. */
  readonly images: readonly { name: string; size: number; offset?: number }[];
  /** @internal */
  readonly plan: Plan;
}

type Plan =
  | { kind: 'internal'; blob: Uint8Array; payloads: Map<string, Payload> }
  | { kind: 'external'; blob: Uint8Array; at: number; align: number; order: { payload: Payload }[] };

const isHash = (n: string): boolean => n.startsWith(FIT_HASH_NODENAME);
const isSig = (n: string): boolean => n.startsWith(FIT_SIG_NODENAME);
const child = (n: FdtNode, name: string) => n.children.find((c) => c.name === name);
const prop = (n: FdtNode, name: string) => n.props.find((p) => p.name === name)?.value;

/** The tree with every image's `data` emptied, and the payload of each image. */
function phantom(input: FitInput): { fdt: Fdt; payloads: Map<string, Payload> } {
  const images = child(input.fdt.root, 'images');
  if (!images) throw new FitBuildError("Can't find images parent node '/images' (FDT_ERR_NOTFOUND)");
  const payloads = new Map<string, Payload>();
  const imgs = images.children.map((img) => {
    const given = input.payloads?.get(img.name);
    const data = prop(img, P.data);
    if (prop(img, P.dataOffset) || prop(img, P.dataPosition)) throw new FitBuildError(`image '${img.name}' already has external data (data-offset/data-position): not supported`);
    if (given === undefined && data === undefined) throw new FitBuildError(`Can't get image data/size for image '${img.name}'`);
    payloads.set(img.name, given ?? data!);
    const props = data === undefined ? [{ name: P.data, value: new Uint8Array(0) }, ...img.props] : img.props.map((p) => (p.name === P.data ? { name: p.name, value: new Uint8Array(0) } : p));
    return { ...img, props };
  });
  const root = { ...input.fdt.root, children: input.fdt.root.children.map((c) => (c === images ? { ...images, children: imgs } : c)) };
  return { fdt: { ...input.fdt, root }, payloads };
}

/** The first child named exactly `name` (names in a FIT are unique; libfdt's "name matches name@unit" is not wanted here). */
function exact(f: InPlaceFdt, parent: number, name: string): number {
  for (const c of f.children(parent)) if (f.name(c) === name) return c;
  throw new LibfdtError('NOTFOUND', `node ${name} vanished`);
}

interface Precomputed {
  digests: Map<string, Map<string, Uint8Array>>;
  imageSigs: Map<string, Uint8Array>; // `${image}/${sig}` → value
  keys: Map<string, FitSigningKey | undefined>;
}

function keyFor(pre: Precomputed, keydir: string, hint: string, algo: string): FitSigningKey | undefined {
  const id = `${hint}\0${algo}`;
  if (!pre.keys.has(id)) pre.keys.set(id, loadSigningKey(keydir, hint, algo));
  return pre.keys.get(id);
}

/** Hashes and image signatures, computed once over the payloads (streamed) before the in-place replay. */
async function precompute(fdt: Fdt, payloads: Map<string, Payload>, o: FitBuildOptions): Promise<Precomputed> {
  const pre: Precomputed = { digests: new Map(), imageSigs: new Map(), keys: new Map() };
  const images = child(fdt.root, 'images')!;
  for (const img of images.children) {
    const algos = new Set<string>();
    for (const h of img.children) {
      if (!isHash(h.name)) continue;
      const a = prop(h, P.algo);
      const name = a && cString(a);
      if (name !== undefined && HASH_ALGOS[name] !== undefined) algos.add(name);
    }
    const p = payloads.get(img.name)!;
    pre.digests.set(img.name, await hashPayload(p, [...algos]));
    if (!o.keydir) continue;
    for (const s of img.children) {
      if (!isSig(s.name)) continue;
      const algo = o.algo ?? (prop(s, P.algo) && cString(prop(s, P.algo)!));
      const hintV = prop(s, P.keyHint);
      if (!algo) throw new FitBuildError(`Can't get algo property for '${s.name}' signature node in '${img.name}' image node`);
      if (!hintV) throw new FitBuildError(`Failed to sign '${s.name}' signature node in '${img.name}' image node: no key-name-hint`);
      const key = keyFor(pre, o.keydir, cString(hintV), algo);
      if (!key) continue;
      const data = await payloadBytes(p);
      pre.imageSigs.set(`${img.name}/${s.name}`, signData(key, algo, data));
    }
  }
  return pre;
}

/** fit_image_write_sig: each new property lands first, so the final order is the reverse of this. */
function writeSig(f: InPlaceFdt, node: number, value: Uint8Array, o: FitBuildOptions, hashed?: Uint8Array): void {
  const stringSize = f.sizeStrings;
  f.setProp(node, P.value, value);
  f.setProp(node, 'signer-name', cstr('mkimage'));
  f.setProp(node, 'signer-version', cstr(o.signerVersion ?? MKIMAGE_VERSION));
  if (o.comment !== undefined) f.setProp(node, 'comment', cstr(o.comment));
  f.setProp(node, P.timestamp, be32(o.signTime ?? o.time));
  if (hashed) {
    f.setProp(node, P.hashedNodes, hashed);
    const hs = new Uint8Array(8);
    new DataView(hs.buffer).setUint32(4, stringSize);
    f.setProp(node, P.hashedStrings, hs);
  }
  if (o.algo !== undefined) f.setProp(node, P.algo, cstr(o.algo));
}

/** rsa_add_verify_data / ecdsa do_add on the -K blob. */
function addVerifyData(k: InPlaceFdt, key: FitSigningKey, algo: string, required: string | undefined): void {
  if (key.kind === 'rsa') {
    let parent = k.child(0, 'signature');
    if (parent === undefined) parent = k.addSubnode(0, 'signature');
    const name = `key-${key.hint}`;
    let node = k.child(parent, name);
    if (node === undefined) node = k.addSubnode(parent, name);
    for (const [n, v] of rsaKeyProps(key.publicKey(), key.hint, algo, required)) k.setProp(node, n, v);
  } else {
    const parent = k.child(0, 'signature');
    if (parent === undefined) throw new FitBuildError("Could not find 'signature node: FDT_ERR_NOTFOUND (mkimage 2023.01 needs an empty /signature node in the -K blob for ECDSA keys)");
    let node: number;
    try {
      node = k.addSubnode(parent, key.hint);
    } catch (e) {
      if (e instanceof LibfdtError && e.err === 'EXISTS') throw new FitBuildError(`Could not create '${key.hint}' node: FDT_ERR_EXISTS`);
      throw e;
    }
    for (const [n, v] of ecdsaKeyProps(key.publicKey())) k.setProp(node, n, v);
  }
}

/** fit_config_get_hash_list: "/", the configuration, then each signed image with its hash (and cipher) nodes. */
function hashedNodes(f: InPlaceFdt, conf: number, confName: string, sig: number, sigName: string): string[] {
  const list = ['/', `/configurations/${confName}`];
  const si = f.prop(sig, P.signImages);
  const wanted = si === undefined ? [P.kernel, P.fdt] : si.length ? splitStrings(si) : [];
  if (!wanted.length) return list;
  const images = f.path('/images');
  let count = 0;
  for (const iname of wanted) {
    const v = f.prop(conf, iname);
    if (!v) continue;
    for (const uname of splitStrings(v)) {
      const img = f.child(images, uname);
      if (img === undefined) throw new FitBuildError(`Failed to find image '${iname}' in  configuration '${confName}/${sigName}'`);
      const imgName = f.name(img);
      list.push(`/images/${imgName}`);
      let hashes = 0;
      for (const c of f.children(img)) {
        const n = f.name(c);
        if (isHash(n)) {
          list.push(`/images/${imgName}/${n}`);
          hashes++;
        }
      }
      if (!hashes) throw new FitBuildError(`Failed to find any hash nodes in configuration '${confName}/${sigName}' image '${imgName}' - without these it is not possible to verify this image`);
      const cipher = f.child(img, FIT_CIPHER_NODENAME);
      if (cipher !== undefined) list.push(`/images/${imgName}/${f.name(cipher)}`);
      count++;
    }
  }
  if (!count) throw new FitBuildError(`Failed to find any images for configuration '${confName}/${sigName}'`);
  return list;
}

/** fit_add_file_data: one attempt on a blob with `sizeInc` bytes of free space. Throws LibfdtError NOSPACE when it does not fit. */
function addFileData(f: InPlaceFdt, k: InPlaceFdt | undefined, pre: Precomputed, o: FitBuildOptions): void {
  f.setProp(0, P.timestamp, be32(o.time));
  let images: number;
  try {
    images = f.path('/images');
  } catch {
    throw new FitBuildError("Can't find images parent node '/images'");
  }
  const required = (what: string) => (o.requireKeys ? what : undefined);
  for (const imgName of [...f.children(images)].map((c) => f.name(c))) {
    for (const subName of [...f.children(exact(f, images, imgName))].map((c) => f.name(c))) {
      const sub = exact(f, exact(f, images, imgName), subName);
      if (isHash(subName)) {
        const a = f.prop(sub, P.algo);
        if (!a) throw new FitBuildError(`Can't get hash algo property for '${subName}' hash node in '${imgName}' image node`);
        const algo = cString(a);
        const v = pre.digests.get(imgName)?.get(algo);
        if (!v) throw new FitBuildError(`Unsupported hash algorithm (${algo}) for '${subName}' hash node in '${imgName}' image node`);
        f.setProp(sub, P.value, v);
      } else if (o.keydir && isSig(subName)) {
        const value = pre.imageSigs.get(`${imgName}/${subName}`);
        if (!value) {
          o.onWarning?.(`Failed to sign '${subName}' signature node in '${imgName}' image node: no key (skipped, as mkimage does)`);
          continue;
        }
        writeSig(f, sub, value, o);
        const s = exact(f, exact(f, images, imgName), subName);
        const algo = o.algo ?? cString(f.prop(s, P.algo)!);
        if (k) addVerifyData(k, keyFor(pre, o.keydir, cString(f.prop(s, P.keyHint)!), algo)!, algo, required('image'));
      }
    }
  }
  if (!o.keydir) return;
  let confs: number;
  try {
    confs = f.path('/configurations');
  } catch {
    throw new FitBuildError("Can't find images parent node '/configurations'");
  }
  for (const confName of [...f.children(confs)].map((c) => f.name(c))) {
    for (const subName of [...f.children(exact(f, confs, confName))].map((c) => f.name(c))) {
      if (!isSig(subName)) continue;
      const conf = exact(f, confs, confName);
      const sig = exact(f, conf, subName);
      const nodes = hashedNodes(f, conf, confName, sig, subName);
      const algoV = o.algo ?? (f.prop(sig, P.algo) && cString(f.prop(sig, P.algo)!));
      if (!algoV) throw new FitBuildError(`Can't get algo property for '${subName}' signature node in '${confName}' image node`);
      const hintV = f.prop(sig, P.keyHint);
      if (!hintV) throw new FitBuildError(`Failed to sign '${subName}' signature node in '${confName}' conf node: no key-name-hint`);
      const key = keyFor(pre, o.keydir, cString(hintV), algoV);
      if (!key) {
        o.onWarning?.(`Failed to sign '${subName}' signature node in '${confName}' conf node: no key (skipped, as mkimage does)`);
        continue;
      }
      const blocks = { bytes: f.buf, offStruct: f.offStruct, sizeStruct: f.sizeStruct, offStrings: f.offStrings, sizeStrings: f.sizeStrings };
      const data = regionBytes(f.buf, findRegions(blocks, new Set(nodes), EXCLUDED_FROM_SIGNATURE, true));
      const value = signData(key, algoV, data);
      writeSig(f, sig, value, o, cstr(nodes.join('\0')));
      if (k) addVerifyData(k, key, algoV, required('conf'));
    }
  }
}

/**
 * Lays out a FIT as `mkimage -f` 2023.01 does. Image data is read (streamed) once, for its hashes;
 * `writeFit` reads it again to write it.
 * @example
 * const built = await buildFit(fitFromIts('image.its'), { time: 315532800 });
 * await withOutputFile('image.itb', (sink) => writeFit(sink, built));
 */
export async function buildFit(input: FitInput, o: FitBuildOptions): Promise<BuiltFit> {
  const align = o.align ?? EXTERNAL_ALIGN;
  if (!Number.isInteger(align) || align < 1) throw new RangeError(`alignment ${align} is not a positive integer`);
  if (o.position !== undefined && (!Number.isInteger(o.position) || o.position < 0)) throw new RangeError(`external position ${o.position} is not valid`);
  const { fdt, payloads } = phantom(input);
  const packed = (input.encode ?? encodeFdt)(fdt);
  let pre: Precomputed;
  try {
    pre = await precompute(fdt, payloads, o);
  } catch (e) {
    if (e instanceof FitSignError) throw new FitBuildError(e.message);
    throw e;
  }
  let keyBlob = o.keyBlob;
  let done: InPlaceFdt | undefined;
  for (let inc = 0; inc < SIZE_INC_MAX && !done; inc += SIZE_INC_STEP) {
    const f = InPlaceFdt.open(packed, new Uint8Array(packed.length + inc));
    let k: InPlaceFdt | undefined;
    if (keyBlob) {
      const kb = new Uint8Array(keyBlob.length + inc);
      kb.set(keyBlob);
      keyBlob = kb;
      // mmap_fdt grows the -K file by size_inc on every attempt and keeps what earlier attempts wrote
      k = InPlaceFdt.open(kb.slice(), kb);
    }
    try {
      addFileData(f, k, pre, o);
      done = f;
    } catch (e) {
      if (e instanceof LibfdtError && e.err === 'NOSPACE') continue;
      if (e instanceof LibfdtError) throw new FitBuildError(`Can't add hashes to FIT blob: ${e.message}`);
      if (e instanceof FitSignError) throw new FitBuildError(e.message);
      throw e;
    }
  }
  if (!done) throw new FitBuildError(`Can't add hashes to FIT blob: more than ${SIZE_INC_MAX} bytes needed`);
  // mkimage then checks the result as U-Boot's fit_check_format does (a root timestamp, which it
  // has just added, and /images, checked above) and exits 1 on a missing root description:
  // U-Boot would not boot such a FIT
  if (!prop(fdt.root, P.description))
    throw new FitBuildError("verify_header failed for FIT Image support: the root node has no 'description' (U-Boot's fit_check_format refuses such a FIT)");
  const order = [...child(fdt.root, 'images')!.children].map((c) => c.name);
  if (!o.external) {
    const blob = done.buf;
    let extra = 0;
    for (const p of payloads.values()) extra += alignUp(payloadSize(p), 4);
    return {
      size: blob.length + extra,
      keyBlob,
      images: order.map((name) => ({ name, size: payloadSize(payloads.get(name)) })),
      plan: { kind: 'internal', blob, payloads },
    };
  }
  return external(done.pack(), order, payloads, align, o.position, keyBlob);
}

// ---- external data (-E) ---------------------------------------------------------------------------

/** One token of a blob we wrote ourselves (already valid): its tag, span, and name when it has one. */
interface Tok { tag: number; at: number; next: number; name: string }

function* tokens(b: Uint8Array, offStruct: number, sizeStruct: number, offStrings: number): Generator<Tok> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = offStruct; at < offStruct + sizeStruct; ) {
    const tag = dv.getUint32(at);
    let next = at + 4, name = '';
    if (tag === FDT_BEGIN_NODE) {
      const nul = b.indexOf(0, at + 4);
      name = cString(b.subarray(at + 4, nul + 1));
      next = at + 4 + alignUp(nul + 1 - (at + 4), 4);
    } else if (tag === FDT_PROP) {
      const len = dv.getUint32(at + 4);
      name = cString(b.subarray(offStrings + dv.getUint32(at + 8)));
      next = at + 12 + alignUp(len, 4);
    }
    yield { tag, at, next, name };
    at = next;
  }
}

function hdr(b: Uint8Array) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { dv, offStruct: dv.getUint32(8), offStrings: dv.getUint32(12), sizeStrings: dv.getUint32(32), sizeStruct: dv.getUint32(36) };
}

/**
 * fit_extract_data on a packed blob: for each image with `data`, in node order, the property goes and
 * `data-offset` (or `data-position`) then `data-size` are set, each landing first; then the blob is
 * packed and its size aligned. The bytes between the strings block and the aligned end are zero here
 * (mkimage 2023.01 leaves libfdt's leftovers there; v2024.01 zeroes them too).
 */
function external(packed: Uint8Array, order: string[], payloads: Map<string, Payload>, align: number, position: number | undefined, keyBlob: Uint8Array | undefined): BuiltFit {
  const h = hdr(packed);
  let strings = '';
  for (let i = 0; i < h.sizeStrings; i++) strings += String.fromCharCode(packed[h.offStrings + i]!);
  const str = (name: string): number => {
    const hit = strings.indexOf(`${name}\0`);
    if (hit >= 0) return hit;
    strings += `${name}\0`;
    return strings.length - name.length - 1;
  };
  const parts: Uint8Array[] = [];
  const u32prop = (nameOff: number, v: number) => {
    const t = new Uint8Array(16);
    const dv = new DataView(t.buffer);
    dv.setUint32(0, FDT_PROP);
    dv.setUint32(4, 4);
    dv.setUint32(8, nameOff);
    dv.setUint32(12, v);
    return t;
  };
  let ptr = 0;
  const images: { name: string; size: number; offset?: number }[] = [];
  const extOrder: { payload: Payload }[] = [];
  let depth = 0, inImages = false, current = '';
  for (const t of tokens(packed, h.offStruct, h.sizeStruct, h.offStrings)) {
    const raw = packed.subarray(t.at, t.next);
    if (t.tag === FDT_BEGIN_NODE) {
      depth++;
      if (depth === 2) inImages = t.name === 'images';
      if (depth === 3 && inImages) current = t.name;
      parts.push(raw);
      if (depth === 3 && inImages) {
        const p = payloads.get(current);
        if (p !== undefined) {
          const size = payloadSize(p);
          const offName = position !== undefined ? 'data-position' : 'data-offset';
          const offStr = str(offName), sizeStr = str('data-size');
          parts.push(u32prop(sizeStr, size), u32prop(offStr, position !== undefined ? position + ptr : ptr));
          images.push({ name: current, size, offset: ptr });
          extOrder.push({ payload: p });
          ptr += alignUp(size, align);
        }
      }
      continue;
    }
    if (t.tag === FDT_END_NODE) depth--;
    if (t.tag === FDT_PROP && depth === 3 && inImages && t.name === P.data && payloads.has(current)) continue;
    parts.push(raw);
  }
  const struct = concat(parts);
  const strBytes = new Uint8Array(strings.length);
  for (let i = 0; i < strings.length; i++) strBytes[i] = strings.charCodeAt(i);
  const packedSize = h.offStruct + struct.length + strBytes.length;
  const total = alignUp(packedSize, align);
  const blob = new Uint8Array(total);
  blob.set(packed.subarray(0, h.offStruct));
  blob.set(struct, h.offStruct);
  blob.set(strBytes, h.offStruct + struct.length);
  const dv = new DataView(blob.buffer);
  dv.setUint32(4, total);
  dv.setUint32(12, h.offStruct + struct.length);
  dv.setUint32(32, strBytes.length);
  dv.setUint32(36, struct.length);
  if (position !== undefined && position < total)
    throw new FitBuildError(`External offset ${position.toString(16)} overlaps FIT length ${total.toString(16)}`);
  const at = position ?? total;
  return {
    size: at + ptr,
    keyBlob,
    images,
    plan: { kind: 'external', blob, at, align, order: extOrder },
  };
}

// ---- writing ---------------------------------------------------------------------------------------

async function writePayload(sink: ByteSink, p: Payload, expected: number, name: string): Promise<void> {
  const n = await pipeInto(sink, payloadChunks(p));
  if (n !== expected) throw new FormatError(FORMAT, 'TRUNCATED', sink.position, `Cannot write image ${name}: its data gave ${n} bytes, ${expected} expected`);
}

/** Writes a built FIT: the blob with each image's data in place (internal), or the blob then the data (external). */
export async function writeFit(sink: ByteSink, built: BuiltFit): Promise<void> {
  const plan = built.plan;
  if (plan.kind === 'external') {
    await sink.writev([plan.blob]);
    await writeZeros(sink, plan.at - plan.blob.length);
    for (const { payload } of plan.order) {
      const size = payloadSize(payload);
      await writePayload(sink, payload, size, 'external');
      await writeZeros(sink, padding(size, plan.align));
    }
    return;
  }
  const b = plan.blob;
  const h = hdr(b);
  let extra = 0;
  for (const p of plan.payloads.values()) extra += alignUp(payloadSize(p), 4);
  const head = b.slice(0, h.offStruct);
  const dv = new DataView(head.buffer);
  dv.setUint32(4, b.length + extra);
  dv.setUint32(12, h.offStrings + extra);
  dv.setUint32(36, h.sizeStruct + extra);
  await sink.writev([head]);
  let depth = 0, inImages = false, current = '', from = h.offStruct;
  for (const t of tokens(b, h.offStruct, h.sizeStruct, h.offStrings)) {
    if (t.tag === FDT_BEGIN_NODE) {
      depth++;
      if (depth === 2) inImages = t.name === 'images';
      if (depth === 3 && inImages) current = t.name;
    } else if (t.tag === FDT_END_NODE) depth--;
    else if (t.tag === FDT_PROP && depth === 3 && inImages && t.name === P.data) {
      const p = plan.payloads.get(current);
      if (p === undefined) continue;
      const size = payloadSize(p);
      const ph = b.slice(t.at, t.at + 12);
      new DataView(ph.buffer).setUint32(4, size);
      await sink.writev([b.subarray(from, t.at), ph]);
      await writePayload(sink, p, size, current);
      await writeZeros(sink, padding(size, 4));
      from = t.next;
    }
  }
  await sink.writev([b.subarray(from)]);
}

/** The whole FIT in memory (small images, tests). */
export async function encodeFit(input: FitInput, o: FitBuildOptions): Promise<{ bytes: Uint8Array; keyBlob: Uint8Array | undefined }> {
  const built = await buildFit(input, o);
  const sink = memorySink();
  await writeFit(sink, built);
  return { bytes: sink.bytes(), keyBlob: built.keyBlob };
}

