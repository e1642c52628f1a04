/**
 * FIT verification as U-Boot does it at boot (boot/image-fit.c fit_image_verify, boot/image-fit-sig.c
 * fit_config_verify; v2023.01): every hash node's value against the image data, image signatures
 * against the data, configuration signatures against the regions named by `hashed-nodes` plus the
 * first `hashed-strings` bytes of the strings block, with the public keys of a control blob (`-K`).
 * Stricter than 2023.01 in one point: a configuration signature whose `hashed-nodes` leaves out the
 * configuration itself or an image (or hash node) it signs is refused, as later U-Boot does by
 * rebuilding the list.
 */
import { FormatError } from '../bytes/errors.js';
import { decodeFdt } from '../dtb/read.js';
import { EXCLUDED_FROM_SIGNATURE, FORMAT, P, parseSigAlgo } from './fit-layout.js';
import { hashPayload, HASH_ALGOS } from './fit-hash.js';
import { blocksOf, findRegions, regionBytes } from './fit-regions.js';
import { controlKeys, verifyData, type ControlKey } from './fit-sign.js';
import { imageByName, type FitConfig, type FitImage, type FitSignature, type OpenedFit } from './fit-read.js';
import { EMPTY, payloadBytes } from '../bytes/payload.js';

export interface HashCheck {
  readonly image: string;
  readonly node: string;
  readonly algo: string;
  readonly ok: boolean;
  readonly expected: Uint8Array | undefined;
  readonly actual: Uint8Array | undefined;
  readonly reason?: string;
}

export interface SignatureCheck {
  readonly path: string;
  readonly algo: string | undefined;
  readonly keyNameHint: string | undefined;
  /** ok: a key verified it; bad: it does not verify (or is malformed); unchecked: no key given for it. */
  readonly status: 'ok' | 'bad' | 'unchecked';
  readonly key?: string;
  readonly reason?: string;
}

export interface FitVerification {
  readonly ok: boolean;
  /**
   * What U-Boot's fit_check_format misses in the root node ('description', 'timestamp'): U-Boot
   * does not boot such a FIT, and dumpimage does not take it for one.
   */
  readonly format: readonly string[];
  readonly hashes: readonly HashCheck[];
  readonly signatures: readonly SignatureCheck[];
  /** Required keys (`required` in the control blob) that no signature satisfied. */
  readonly missingRequired: readonly string[];
}

export interface VerifyOptions {
  /** The control blob with public keys under /signature (mkimage -K output). */
  readonly keyBlob?: Uint8Array;
  /** Check only this configuration's signatures and required keys (U-Boot checks the one it boots). Default: all. */
  readonly config?: string;
}

/** Root properties fit_check_format requires (/images, which it requires too, openFit does). */
const ROOT_REQUIRED = ['description', 'timestamp'];

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The checks of an image's hash nodes against `digests`, the digests of its data (one per known
 * algorithm the image asks for).
 */
function checkHashes(im: FitImage, digests: ReadonlyMap<string, Uint8Array>, out: HashCheck[]): void {
  for (const h of im.hashes) {
    if (h.ignore) continue;
    const actual = digests.get(h.algo);
    if (!actual) out.push({ image: im.name, node: h.node, algo: h.algo, ok: false, expected: h.value, actual, reason: `unsupported hash algorithm ${h.algo}` });
    else if (!h.value) out.push({ image: im.name, node: h.node, algo: h.algo, ok: false, expected: undefined, actual, reason: 'no value' });
    else {
      const ok = sameBytes(actual, h.value);
      out.push({ image: im.name, node: h.node, algo: h.algo, ok, expected: h.value, actual, ...(ok ? {} : { reason: 'value does not match the data' }) });
    }
  }
}

function tryKeys(keys: readonly ControlKey[], s: FitSignature, data: Uint8Array): SignatureCheck {
  const base = { path: s.path, algo: s.algo, keyNameHint: s.keyNameHint };
  const a = s.algo === undefined ? undefined : parseSigAlgo(s.algo);
  if (!a) return { ...base, status: 'bad', reason: `unsupported algorithm ${s.algo ?? '(none)'}` };
  if (!s.value) return { ...base, status: 'bad', reason: 'no value (not signed)' };
  const usable = keys.filter((k) => k.kind === a.kind);
  if (!usable.length) return { ...base, status: 'unchecked', reason: `no ${a.kind} key` };
  // U-Boot tries the key named by the hint first, then every key in turn (lib/rsa/rsa-verify.c rsa_verify)
  usable.sort((x, y) => Number(y.hint === s.keyNameHint) - Number(x.hint === s.keyNameHint));
  for (const k of usable) if (verifyData(k.publicKey, s.algo!, data, s.value)) return { ...base, status: 'ok', key: k.node };
  return { ...base, status: 'bad', reason: 'signature does not verify with any key' };
}

/** Most uncovered paths a configuration signature's reason names. */
const MAX_UNCOVERED = 8;

/**
 * The node paths a configuration signature must cover (what U-Boot after 2023.01 computes itself)
 * that `hashed-nodes` leaves out: the first {@link MAX_UNCOVERED}, then '…' if there are more.
 */
function uncovered(fit: OpenedFit, conf: FitConfig, s: FitSignature, have: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const want = (path: string): boolean => {
    if (have.has(path)) return true;
    if (out.length < MAX_UNCOVERED) {
      out.push(path);
      return true;
    }
    out.push('…');
    return false;
  };
  if (!want(`/configurations/${conf.name}`)) return out;
  for (const prop of s.signImages ?? [P.kernel, P.fdt]) {
    for (const name of conf.refs.get(prop) ?? []) {
      const im = imageByName(fit, name);
      if (!im) continue;
      if (!want(`/images/${im.name}`)) return out;
      for (const h of im.hashes) if (!want(`/images/${im.name}/${h.node}`)) return out;
    }
  }
  return out;
}

function checkConfigSig(fit: OpenedFit, conf: FitConfig, s: FitSignature, keys: readonly ControlKey[]): SignatureCheck {
  const base = { path: s.path, algo: s.algo, keyNameHint: s.keyNameHint };
  if (!s.hashedNodes || s.hashedStrings === undefined) return { ...base, status: 'bad', reason: 'no hashed-nodes/hashed-strings' };
  if (s.hashedNodes.length > 100) return { ...base, status: 'bad', reason: 'more than 100 hashed nodes' };
  const missing = uncovered(fit, conf, s, new Set(s.hashedNodes));
  if (missing.length) return { ...base, status: 'bad', reason: `hashed-nodes leaves out ${missing.join(', ')}` };
  const b = blocksOf(fit.blob);
  if (s.hashedStrings > b.sizeStrings) return { ...base, status: 'bad', reason: 'hashed-strings runs past the strings block' };
  let data: Uint8Array;
  try {
    const regions = findRegions(b, new Set(s.hashedNodes), EXCLUDED_FROM_SIGNATURE, false);
    regions.push({ offset: b.offStrings, size: s.hashedStrings });
    data = regionBytes(fit.blob, regions);
  } catch (e) {
    return { ...base, status: 'bad', reason: (e as Error).message };
  }
  return tryKeys(keys, s, data);
}

/** Hashing a verification may do: this many passes over the file per algorithm, plus {@link WORK_FLOOR}. */
const WORK_PASSES = 2;
const WORK_FLOOR = 1 << 20;

interface RangeWork {
  /** Known hash algorithms asked for over this data by any image. */
  readonly algos: Set<string>;
  digests?: Map<string, Uint8Array>;
}

/** Images whose data is the same range of the file share their digests. */
const rangeKey = (im: FitImage): string => `${im.dataAt}:${im.dataSize}`;

const sigKey = (im: FitImage, s: FitSignature): string =>
  `${rangeKey(im)}\0${s.algo ?? ''}\0${s.keyNameHint ?? ''}\0${s.value ? Buffer.from(s.value).toString('hex') : ''}`;

/** How many keys {@link tryKeys} may hash the data with. */
function tries(keys: readonly ControlKey[], s: FitSignature): number {
  const a = s.algo === undefined ? undefined : parseSigAlgo(s.algo);
  if (!a || !s.value) return 0;
  let n = 0;
  for (const k of keys) if (k.kind === a.kind) n++;
  return n;
}

/**
 * The distinct data ranges to hash, with the algorithms each needs, after checking that hashing
 * them (and the signed image data, once per distinct signature and key) stays within
 * {@link WORK_PASSES} passes over the file per distinct algorithm. Image data ranges can overlap
 * (data-position, data-offset), so without a bound a small file could ask for any amount of
 * hashing; a FIT whose images do not overlap never reaches it.
 */
function planWork(fit: OpenedFit, keys: readonly ControlKey[]): { ranges: Map<string, RangeWork> } {
  const ranges = new Map<string, RangeWork>();
  const algos = new Set<string>();
  for (const im of fit.images) {
    const k = rangeKey(im);
    let r = ranges.get(k);
    if (!r) ranges.set(k, (r = { algos: new Set() }));
    for (const h of im.hashes) {
      if (h.ignore || HASH_ALGOS[h.algo] === undefined) continue;
      r.algos.add(h.algo);
      algos.add(h.algo);
    }
  }
  const sigAlgos = new Set<string>();
  if (keys.length) for (const im of fit.images) for (const s of im.signatures) if (s.algo !== undefined) sigAlgos.add(s.algo);
  const budget = WORK_FLOOR + WORK_PASSES * fit.ra.size * Math.max(1, algos.size + keys.length * sigAlgos.size);
  let work = 0;
  const counted = new Set<RangeWork>();
  const sigs = new Set<string>();
  for (const im of fit.images) {
    const r = ranges.get(rangeKey(im))!;
    if (!counted.has(r)) {
      counted.add(r);
      work += im.dataSize * r.algos.size;
    }
    if (keys.length) {
      for (const s of im.signatures) {
        const k = sigKey(im, s);
        if (sigs.has(k)) continue;
        sigs.add(k);
        work += im.dataSize * tries(keys, s);
      }
    }
    if (work > budget)
      throw new FormatError(FORMAT, 'LIMIT', im.dataAt,
        `Cannot verify FIT: with /images/${im.name} the image data to hash comes to ${work} bytes, over the limit of ${budget} (${WORK_PASSES} passes over the file per algorithm; data ranges overlap)`);
  }
  return { ranges };
}

/**
 * Verifies every hash, and every signature for which `keyBlob` has a key of its kind.
 * @example
 * const v = await verifyFit(await openFit(ra), { keyBlob: readFileSync('u-boot.dtb') });
 * if (!v.ok) process.exit(1);
 */
export async function verifyFit(fit: OpenedFit, opts: VerifyOptions = {}): Promise<FitVerification> {
  const keys = opts.keyBlob ? controlKeys(decodeFdt(opts.keyBlob).root) : [];
  const plan = planWork(fit, keys);
  const hashes: HashCheck[] = [];
  for (const im of fit.images) {
    const r = plan.ranges.get(rangeKey(im))!;
    r.digests ??= await hashPayload(fit.data(im), [...r.algos]);
    checkHashes(im, r.digests, hashes);
  }
  const signatures: SignatureCheck[] = [];
  // `${key node}\0${signed node path}` for each signature a key verified (for the `required` checks)
  const verified = new Set<string>();
  const add = (c: SignatureCheck, owner: string): void => {
    signatures.push(c);
    if (c.status === 'ok') verified.add(`${c.key}\0${owner}`);
  };
  if (keys.length) {
    // one result per distinct (data, signature): the same data signed the same way verifies the same
    const done = new Map<string, SignatureCheck>();
    for (const im of fit.images) {
      if (!im.signatures.length) continue;
      let data: Uint8Array | undefined;
      for (const s of im.signatures) {
        const key = sigKey(im, s);
        let c = done.get(key);
        if (!c) done.set(key, (c = tryKeys(keys, s, (data ??= await payloadBytes(fit.data(im))))));
        add({ ...c, path: s.path }, `/images/${im.name}`);
      }
    }
  } else for (const im of fit.images) for (const s of im.signatures) add(tryKeys(keys, s, EMPTY), `/images/${im.name}`);
  const configs = opts.config === undefined ? fit.configs : fit.configs.filter((c) => c.name === opts.config);
  if (opts.config !== undefined && !configs.length) throw new RangeError(`no configuration named ${opts.config}`);
  for (const c of configs) for (const s of c.signatures) add(checkConfigSig(fit, c, s, keys), `/configurations/${c.name}`);
  const missingRequired: string[] = [];
  for (const k of keys) {
    if (k.required === 'conf') {
      for (const c of configs)
        if (!verified.has(`${k.node}\0/configurations/${c.name}`)) missingRequired.push(`${k.node} (required for configurations) does not verify /configurations/${c.name}`);
    } else if (k.required === 'image') {
      for (const im of fit.images)
        if (!verified.has(`${k.node}\0/images/${im.name}`)) missingRequired.push(`${k.node} (required for images) does not verify /images/${im.name}`);
    }
  }
  const format = ROOT_REQUIRED.filter((name) => !fit.root.props.some((p) => p.name === name)).map((name) => `the root node has no '${name}' (U-Boot's fit_check_format refuses this FIT)`);
  const ok = format.length === 0 && hashes.every((h) => h.ok) && signatures.every((s) => s.status !== 'bad') && missingRequired.length === 0;
  return { ok, format, hashes, signatures, missingRequired };
}
