/**
 * The listing `mkimage -l` prints for a FIT (boot/image-fit.c fit_print_contents, fit_image_print,
 * fit_conf_print; U-Boot v2023.01 host build, times in UTC), and a JSON form with the verification.
 */
import { ctimeUtc, formatSize } from './legacy-text.js';
import { idOf, longNameOf } from './tables.js';
import type { FitImage, FitSignature, OpenedFit } from './fit-read.js';
import type { FitVerification, HashCheck, SignatureCheck } from './fit-verify.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const addr = (v: bigint): string => `0x${v.toString(16).padStart(8, '0')}`;
const or = (v: string | undefined): string => v ?? 'unavailable';

/** genimg_get_*_name of a FIT property: an unknown or missing name prints as "Unknown …". */
const long = (cat: 'arch' | 'os' | 'type' | 'comp', name: string | undefined): string => longNameOf(cat, name === undefined ? -1 : idOf(cat, name) ?? -1);

function verificationLines(name: string, hashLike: { algo: string | undefined; keyNameHint?: string | undefined; required?: boolean; padding?: string | undefined; value: Uint8Array | undefined; timestamp?: number | undefined }, kind: 'Hash' | 'Sign'): string[] {
  const out: string[] = [];
  if (hashLike.algo === undefined) return [`  ${kind} algo:    invalid/unsupported`];
  let a = `  ${kind} algo:    ${hashLike.algo}`;
  if (hashLike.keyNameHint !== undefined) a += `:${hashLike.keyNameHint}`;
  if (hashLike.required) a += ' (required)';
  out.push(a);
  if (hashLike.padding !== undefined) out.push(`  ${kind} padding: ${hashLike.padding}`);
  out.push(`  ${kind} value:   ${hashLike.value ? hex(hashLike.value) : 'unavailable'}`);
  if (hashLike.keyNameHint !== undefined) out.push(`  Timestamp:    ${hashLike.timestamp === undefined ? 'unavailable' : ctimeUtc(hashLike.timestamp)}`);
  void name;
  return out;
}

/** The first entry of `list` for each node name (a node name can repeat in a hostile blob; the listing shows the first). */
function byNode<T extends { node: string }>(list: readonly T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const x of list) if (!m.has(x.node)) m.set(x.node, x);
  return m;
}

function pushAll(out: string[], lines: readonly string[]): void {
  for (const l of lines) out.push(l);
}

function subnodeLines(out: string[], node: { children: { name: string }[] }, hashes: readonly { node: string; algo: string; value: Uint8Array | undefined }[], sigs: readonly FitSignature[]): void {
  const hashOf = byNode(hashes), sigOf = byNode(sigs);
  for (const c of node.children) {
    const h = hashOf.get(c.name);
    if (h && c.name.startsWith('hash')) pushAll(out, verificationLines(c.name, h, 'Hash'));
    const s = sigOf.get(c.name);
    if (s) pushAll(out, verificationLines(c.name, s, 'Sign'));
  }
}

function imageLines(out: string[], fit: OpenedFit, im: FitImage): void {
  const created = fit.timestamp === undefined ? 'unavailable' : ctimeUtc(fit.timestamp);
  out.push(`  Description:  ${or(im.description)}`, `  Created:      ${created}`);
  const type = im.type === undefined ? undefined : idOf('type', im.type);
  out.push(`  Type:         ${long('type', im.type)}`);
  out.push(`  Compression:  ${long('comp', im.compression ?? 'none')}`);
  out.push(`  Data Size:    ${formatSize(im.dataSize)}`);
  const is = (...names: string[]) => type !== undefined && names.some((n) => idOf('type', n) === type);
  if (is('kernel', 'standalone', 'ramdisk', 'firmware', 'flat_dt')) out.push(`  Architecture: ${long('arch', im.arch)}`);
  if (is('kernel', 'ramdisk', 'firmware')) out.push(`  OS:           ${long('os', im.os)}`);
  if (is('kernel', 'standalone', 'firmware', 'ramdisk', 'fpga')) out.push(`  Load Address: ${im.load === undefined ? 'unavailable' : addr(im.load)}`);
  if (is('flat_dt') && im.load !== undefined) out.push(`  Load Address: ${addr(im.load)}`);
  if (is('kernel', 'standalone', 'ramdisk')) out.push(`  Entry Point:  ${im.entry === undefined ? 'unavailable' : addr(im.entry)}`);
  subnodeLines(out, im.node, im.hashes, im.signatures);
}

/**
 * What `TZ=UTC mkimage -l X.itb` prints.
 * @example process.stdout.write(formatFitListing(await openFit(ra)));
 */
export function formatFitListing(fit: OpenedFit): string {
  const out = [`FIT description: ${or(fit.description)}`, `Created:         ${fit.timestamp === undefined ? 'unavailable' : ctimeUtc(fit.timestamp)}`];
  for (const im of fit.images) {
    out.push(` Image ${im.index} (${im.name})`);
    imageLines(out, fit, im);
  }
  if (fit.defaultConfig !== undefined) out.push(` Default Configuration: '${fit.defaultConfig}'`);
  for (const c of fit.configs) {
    out.push(` Configuration ${c.index} (${c.name})`, `  Description:  ${or(c.description)}`);
    const one = (p: string) => c.refs.get(p)?.[0];
    out.push(`  Kernel:       ${or(one('kernel'))}`);
    if (one('ramdisk') !== undefined) out.push(`  Init Ramdisk: ${one('ramdisk')}`);
    if (one('firmware') !== undefined) out.push(`  Firmware:     ${one('firmware')}`);
    (c.refs.get('fdt') ?? []).forEach((f, i) => out.push(`${i ? '                ' : '  FDT:          '}${f}`));
    if (one('fpga') !== undefined) out.push(`  FPGA:         ${one('fpga')}`);
    (c.refs.get('loadables') ?? []).forEach((f, i) => out.push(`${i ? '                ' : '  Loadables:    '}${f}`));
    subnodeLines(out, c.node, [], c.signatures);
  }
  return out.join('\n') + '\n';
}

/** The listing's facts as JSON, with the verification when there is one. */
export function fitJson(fit: OpenedFit, v?: FitVerification): unknown {
  const h = (b: Uint8Array | undefined) => (b ? hex(b) : null);
  const checkOf = new Map<string, HashCheck>();
  if (v) for (const c of v.hashes) if (!checkOf.has(`${c.image}\0${c.node}`)) checkOf.set(`${c.image}\0${c.node}`, c); // names hold no NUL
  const statusOf = new Map<string, SignatureCheck['status']>();
  if (v) for (const c of v.signatures) if (!statusOf.has(c.path)) statusOf.set(c.path, c.status);
  return {
    description: fit.description ?? null,
    timestamp: fit.timestamp ?? null,
    totalSize: fit.totalSize,
    images: fit.images.map((im) => ({
      index: im.index, name: im.name, description: im.description ?? null, type: im.type ?? null, arch: im.arch ?? null, os: im.os ?? null,
      compression: im.compression ?? null, load: im.load === undefined ? null : addr(im.load), entry: im.entry === undefined ? null : addr(im.entry),
      data: { kind: im.dataKind, offset: im.dataAt, size: im.dataSize },
      hashes: im.hashes.map((x) => ({ node: x.node, algo: x.algo, value: h(x.value), ...(v ? { ok: checkOf.get(`${im.name}\0${x.node}`)?.ok ?? null } : {}) })),
      signatures: im.signatures.map((s) => sigJson(s, v && statusOf)),
    })),
    defaultConfig: fit.defaultConfig ?? null,
    configurations: fit.configs.map((c) => ({
      index: c.index, name: c.name, description: c.description ?? null, ...Object.fromEntries(c.refs), signatures: c.signatures.map((s) => sigJson(s, v && statusOf)),
    })),
    ...(v ? { verified: v.ok, format: v.format, missingRequired: v.missingRequired } : {}),
  };
}

/** A signature as JSON; `statusOf` (the verification's status by signature path) when there is a verification. */
function sigJson(s: FitSignature, statusOf: ReadonlyMap<string, SignatureCheck['status']> | undefined) {
  return {
    node: s.node, algo: s.algo ?? null, keyNameHint: s.keyNameHint ?? null, value: s.value ? hex(s.value) : null, timestamp: s.timestamp ?? null,
    hashedNodes: s.hashedNodes ?? null, ...(statusOf ? { status: statusOf.get(s.path) ?? null } : {}),
  };
}
