/**
 * FIT signing keys with node:crypto: mkimage's key files (`-k KEYDIR`: `<hint>.key` + `<hint>.crt` for
 * RSA, `<hint>.pem` for ECDSA), the public-key nodes it writes into the `-K` blob (lib/rsa/rsa-sign.c
 * rsa_add_verify_data, lib/ecdsa/ecdsa-libcrypto.c do_add; U-Boot v2023.01), and their inverse for
 * verification. RSA PKCS#1 v1.5 is deterministic, so our signatures equal mkimage's; ECDSA is not.
 */
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { readInputSync } from '../bytes/input.js';
import { join } from 'node:path';
import { asCells, asString, type FdtNode } from '../dtb/model.js';
import { parseSigAlgo } from './fit-layout.js';

/** A signing key as mkimage finds it under KEYDIR for a `key-name-hint`. */
export interface FitSigningKey {
  readonly hint: string;
  readonly kind: 'rsa' | 'ecdsa';
  readonly privateKey: KeyObject;
  /** RSA: the certificate's key (mkimage takes the public key from `<hint>.crt`); ECDSA: derived from the private key. */
  readonly publicKey: () => KeyObject;
}

/** A mistake in the signing setup (missing key, unknown algorithm): mkimage stops there too. */
export class FitSignError extends Error {
  override readonly name = 'FitSignError';
}

/**
 * Loads the key mkimage would use for `hint` and `algo` from `keydir`; undefined when the private key
 * file does not exist (mkimage then skips that signature: "We allow keys to be missing").
 */
export function loadSigningKey(keydir: string, hint: string, algo: string): FitSigningKey | undefined {
  const a = parseSigAlgo(algo);
  if (!a) throw new FitSignError(`Unsupported signature algorithm (${algo})`);
  const file = join(keydir, `${hint}.${a.kind === 'rsa' ? 'key' : 'pem'}`);
  let pem: Buffer;
  try {
    pem = Buffer.from(readInputSync(file, 'fit'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const privateKey = createPrivateKey(pem);
  const type = privateKey.asymmetricKeyType;
  if (a.kind === 'rsa' && type !== 'rsa') throw new FitSignError(`${file}: not an RSA key (${type})`);
  if (a.kind === 'ecdsa') {
    if (type !== 'ec') throw new FitSignError(`${file}: not an EC key (${type})`);
    const bits = curveBits(privateKey.asymmetricKeyDetails?.namedCurve);
    if (bits !== a.bits) throw new FitSignError(`Expected a ${a.bits}-bit key, got ${bits}-bit key`);
  }
  const publicKey = a.kind === 'rsa'
    ? () => {
      const crt = join(keydir, `${hint}.crt`);
      try {
        return new X509Certificate(readInputSync(crt, 'fit')).publicKey;
      } catch (e) {
        throw new FitSignError(`Couldn't open RSA certificate: '${crt}': ${(e as Error).message}`);
      }
    }
    : () => createPublicKey(privateKey);
  return { hint, kind: a.kind, privateKey, publicKey };
}

function curveBits(curve: string | undefined): number {
  return curve === 'prime256v1' || curve === 'P-256' ? 256 : curve === 'secp384r1' || curve === 'P-384' ? 384 : 0;
}

/** Signs the concatenated regions (RSASSA-PKCS1-v1_5, or ECDSA with a raw r‖s value as U-Boot stores it). */
export function signData(key: FitSigningKey, algo: string, data: Uint8Array): Uint8Array {
  const a = parseSigAlgo(algo);
  if (!a) throw new FitSignError(`Unsupported signature algorithm (${algo})`);
  if (a.kind !== key.kind) throw new FitSignError(`key ${key.hint} is ${key.kind}, the node asks for ${algo}`);
  const sig = a.kind === 'rsa'
    ? sign(a.checksum, data, key.privateKey)
    : sign(a.checksum, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return new Uint8Array(sig);
}

/** Checks a signature value against a public key. */
export function verifyData(publicKey: KeyObject, algo: string, data: Uint8Array, value: Uint8Array): boolean {
  const a = parseSigAlgo(algo);
  if (!a) return false;
  try {
    return a.kind === 'rsa'
      ? verify(a.checksum, data, publicKey, value)
      : verify(a.checksum, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, value);
  } catch {
    return false;
  }
}

// ---- public keys in a control blob ----------------------------------------------------------------

const b64u = (s: string | undefined): bigint => {
  if (!s) throw new FitSignError('key without its parameters');
  return BigInt(`0x${Buffer.from(s, 'base64url').toString('hex') || '0'}`);
};

const bitLength = (n: bigint): number => n.toString(2).length;

/** fdt_add_bignum: `bits / 8` bytes, big-endian. */
export function bignumBytes(n: bigint, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits / 32) * 4);
  for (let i = out.length - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/** The properties rsa_add_verify_data sets, in the order it sets them (each lands first: libfdt prepends). */
export function rsaKeyProps(publicKey: KeyObject, hint: string, algo: string, required: string | undefined): [string, Uint8Array][] {
  const jwk = publicKey.export({ format: 'jwk' });
  const n = b64u(jwk.n), e = b64u(jwk.e);
  const bits = bitLength(n);
  const two32 = 1n << 32n;
  const n0inv = Number((two32 - modInverse(n, two32)) % two32);
  const r = 1n << BigInt(bits);
  const rr = (r * r) % n;
  const u32 = (v: number) => bignumBytes(BigInt(v), 32);
  const props: [string, Uint8Array][] = [
    ['key-name-hint', cstrBytes(hint)],
    ['rsa,num-bits', u32(bits)],
    ['rsa,n0-inverse', u32(n0inv)],
    ['rsa,exponent', bignumBytes(e, 64)],
    ['rsa,modulus', bignumBytes(n, bits)],
    ['rsa,r-squared', bignumBytes(rr, bits)],
    ['algo', cstrBytes(algo)],
  ];
  if (required !== undefined) props.push(['required', cstrBytes(required)]);
  return props;
}

/** The properties ecdsa do_add sets (2023.01: only the curve and the point). */
export function ecdsaKeyProps(publicKey: KeyObject): [string, Uint8Array][] {
  const jwk = publicKey.export({ format: 'jwk' });
  const bits = jwk.crv === 'P-384' ? 384 : 256;
  const curve = bits === 384 ? 'secp384r1' : 'prime256v1';
  return [
    ['ecdsa,curve', cstrBytes(curve)],
    ['ecdsa,x-point', bignumBytes(b64u(jwk.x), bits)],
    ['ecdsa,y-point', bignumBytes(b64u(jwk.y), bits)],
  ];
}

function cstrBytes(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** A public key found in a control blob's `/signature` node. */
export interface ControlKey {
  /** The key node's name ("key-dev" for RSA, "dev" for ECDSA in 2023.01). */
  readonly node: string;
  readonly hint: string;
  readonly kind: 'rsa' | 'ecdsa';
  /** "conf", "image" or undefined. */
  readonly required: string | undefined;
  readonly publicKey: KeyObject;
}

/** The keys of a control blob (the `-K` output), as U-Boot reads them when verifying. */
export function controlKeys(root: FdtNode): ControlKey[] {
  const sigs = root.children.find((c) => c.name === 'signature');
  if (!sigs) return [];
  const out: ControlKey[] = [];
  for (const k of sigs.children) {
    const prop = (n: string) => k.props.find((p) => p.name === n)?.value;
    const str = (n: string) => { const v = prop(n); return v && asString(v); };
    const mod = prop('rsa,modulus'), exp = prop('rsa,exponent');
    const x = prop('ecdsa,x-point'), y = prop('ecdsa,y-point');
    const hint = str('key-name-hint') ?? k.name.replace(/^key-/, '');
    try {
      if (mod && exp) {
        const e = exp.length === 8 ? exp : exp.length === 4 ? Uint8Array.from([0, 0, 0, 0, ...exp]) : undefined;
        if (!e || asCells(mod) === undefined) continue;
        const publicKey = createPublicKey({ key: { kty: 'RSA', n: b64(trim(mod)), e: b64(trim(e)) }, format: 'jwk' });
        out.push({ node: k.name, hint, kind: 'rsa', required: str('required'), publicKey });
      } else if (x && y) {
        const crv = str('ecdsa,curve') === 'secp384r1' ? 'P-384' : 'P-256';
        const publicKey = createPublicKey({ key: { kty: 'EC', crv, x: b64(x), y: b64(y) }, format: 'jwk' });
        out.push({ node: k.name, hint, kind: 'ecdsa', required: str('required'), publicKey });
      }
    } catch {
      /* a malformed key node is skipped: it verifies nothing */
    }
  }
  return out;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const trim = (b: Uint8Array): Uint8Array => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};
