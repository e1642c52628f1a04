/**
 * FIT verification as U-Boot does it at boot (boot/image-fit.c fit_image_verify, boot/image-fit-sig.c
 * fit_config_verify; v2023.01): every hash node's value against the image data, image signatures
 * against the data, configuration signatures against the regions named by `hashed-nodes` plus the
 * first `hashed-strings` bytes of the strings block, with the public keys of a control blob (`-K`).
 * Stricter than 2023.01 in one point: a configuration signature whose `hashed-nodes` leaves out the
 * configuration itself or an image (or hash node) it signs is refused, as later U-Boot does by
 * rebuilding the list.
 */
import { decodeFdt } from '../dtb/read.js';
import { EXCLUDED_FROM_SIGNATURE, P, parseSigAlgo } from './fit-layout.js';
import { hashPayload, HASH_ALGOS } from './fit-hash.js';
import { blocksOf, findRegions, regionBytes } from './fit-regions.js';
import { controlKeys, verifyData, type ControlKey } from './fit-sign.js';
import { imageByName, type FitConfig, type FitImage, type FitSignature, type OpenedFit } from './fit-read.js';
import { payloadBytes } from '../bytes/payload.js';

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

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

async function checkHashes(fit: OpenedFit, im: FitImage): Promise<HashCheck[]> {
  const known = im.hashes.filter((h) => HASH_ALGOS[h.algo] !== undefined && !h.ignore);
  const digests = await hashPayload(fit.data(im), [...new Set(known.map((h) => h.algo))]);
  return im.hashes.filter((h) => !h.ignore).map((h) => {
    const actual = digests.get(h.algo);
    if (!actual) return { image: im.name, node: h.node, algo: h.algo, ok: false, expected: h.value, actual, reason: `unsupported hash algorithm ${h.algo}` };
    if (!h.value) return { image: im.name, node: h.node, algo: h.algo, ok: false, expected: undefined, actual, reason: 'no value' };
    const ok = sameBytes(actual, h.value);
    return { image: im.name, node: h.node, algo: h.algo, ok, expected: h.value, actual, ...(ok ? {} : { reason: 'value does not match the data' }) };
  });
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

/** The node paths a configuration signature must cover (what U-Boot after 2023.01 computes itself). */
function mustCover(fit: OpenedFit, conf: FitConfig, s: FitSignature): string[] {
  const out = [`/configurations/${conf.name}`];
  for (const prop of s.signImages ?? [P.kernel, P.fdt]) {
    for (const name of conf.refs.get(prop) ?? []) {
      const im = imageByName(fit, name);
      if (!im) continue;
      out.push(`/images/${im.name}`, ...im.hashes.map((h) => `/images/${im.name}/${h.node}`));
    }
  }
  return out;
}

function checkConfigSig(fit: OpenedFit, conf: FitConfig, s: FitSignature, keys: readonly ControlKey[]): SignatureCheck {
  const base = { path: s.path, algo: s.algo, keyNameHint: s.keyNameHint };
  if (!s.hashedNodes || s.hashedStrings === undefined) return { ...base, status: 'bad', reason: 'no hashed-nodes/hashed-strings' };
  if (s.hashedNodes.length > 100) return { ...base, status: 'bad', reason: 'more than 100 hashed nodes' };
  const missing = mustCover(fit, conf, s).filter((p) => !s.hashedNodes!.includes(p));
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

/**
 * Verifies every hash, and every signature for which `keyBlob` has a key of its kind.
 * @example
 * const v = await verifyFit(await openFit(ra), { keyBlob: readFileSync('u-boot.dtb') });
 * if (!v.ok) process.exit(1);
 */
export async function verifyFit(fit: OpenedFit, opts: VerifyOptions = {}): Promise<FitVerification> {
  const keys = opts.keyBlob ? controlKeys(decodeFdt(opts.keyBlob).root) : [];
  const hashes: HashCheck[] = [];
  const signatures: SignatureCheck[] = [];
  for (const im of fit.images) {
    hashes.push(...(await checkHashes(fit, im)));
    if (!im.signatures.length) continue;
    const data = keys.length ? await payloadBytes(fit.data(im)) : new Uint8Array(0);
    for (const s of im.signatures) signatures.push(tryKeys(keys, s, data));
  }
  const configs = opts.config === undefined ? fit.configs : fit.configs.filter((c) => c.name === opts.config);
  if (opts.config !== undefined && !configs.length) throw new RangeError(`no configuration named ${opts.config}`);
  for (const c of configs) for (const s of c.signatures) signatures.push(checkConfigSig(fit, c, s, keys));
  const missingRequired: string[] = [];
  for (const k of keys) {
    if (k.required === 'conf') {
      for (const c of configs) {
        const okHere = signatures.some((s) => s.status === 'ok' && s.key === k.node && s.path.startsWith(`/configurations/${c.name}/`));
        if (!okHere) missingRequired.push(`${k.node} (required for configurations) does not verify /configurations/${c.name}`);
      }
    } else if (k.required === 'image') {
      for (const im of fit.images) {
        const okHere = signatures.some((s) => s.status === 'ok' && s.key === k.node && s.path.startsWith(`/images/${im.name}/`));
        if (!okHere) missingRequired.push(`${k.node} (required for images) does not verify /images/${im.name}`);
      }
    }
  }
  const ok = hashes.every((h) => h.ok) && signatures.every((s) => s.status !== 'bad') && missingRequired.length === 0;
  return { ok, hashes, signatures, missingRequired };
}
