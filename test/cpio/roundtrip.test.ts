/** Layout, round trips and chunking: encodeCpio/writeCpio against decodeCpio/readCpio. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteSource, collect } from '../../src/bytes/source.js';
import {
  byteSum, decodeCpio, decodeHeader, encodeCpio, encodeHeader, entrySize, HEADER_SIZE, readCpio, writeCpio, normalizeName, S_IFREG, type CpioHeader,
} from '../../src/cpio/index.js';
import { items, u32 } from './arb.js';

const enc = new TextEncoder();
const header: fc.Arbitrary<CpioHeader> = fc.record({
  format: fc.constantFrom('newc' as const, 'crc' as const), ino: u32, mode: u32, uid: u32, gid: u32, nlink: u32, mtime: u32, filesize: u32,
  devMajor: u32, devMinor: u32, rdevMajor: u32, rdevMinor: u32, namesize: u32, check: u32,
});

function split(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, b.length]) {
    out.push(b.subarray(at, Math.max(at, c)));
    at = Math.max(at, c);
  }
  return out;
}

describe('cpio layout', () => {
  it('a header is 110 bytes; the 13 fields sit at 6 + 8i', () => {
    const buf = new Uint8Array(HEADER_SIZE);
    encodeHeader({ format: 'newc', ino: 1, mode: 0o100644, uid: 2, gid: 3, nlink: 4, mtime: 5, filesize: 6, devMajor: 7, devMinor: 8, rdevMajor: 9, rdevMinor: 10, namesize: 11, check: 0xabcdef12 }, buf);
    assert.equal(new TextDecoder().decode(buf), '070701' + '00000001' + '000081A4' + '00000002' + '00000003' + '00000004' + '00000005' + '00000006' + '00000007' + '00000008' + '00000009' + '0000000A' + '0000000B' + 'ABCDEF12');
  });

  it('decode(encode(h)) = h for every field value, including >= 2^31; lower-case hex is read too', () => {
    fc.assert(fc.property(header, (h) => {
      const buf = new Uint8Array(HEADER_SIZE);
      encodeHeader(h, buf);
      assert.deepEqual(decodeHeader(buf, 0, 0), { ...h });
      const lower = enc.encode(new TextDecoder().decode(buf).toLowerCase());
      assert.deepEqual(decodeHeader(lower, 0, 0), { ...h });
    }));
  });

  it('entries are padded to 4 after the name and after the data', () => {
    assert.equal(entrySize(2, 0), 112); // "." : 110 + 2, no padding
    assert.equal(entrySize(3, 1), 120); // 113 -> 116, + 1 -> 120
    assert.equal(entrySize(11, 0), 124); // the trailer
  });

  it('the crc check is the wrapping u32 byte sum', () => {
    assert.equal(byteSum(new Uint8Array([1, 2, 255])), 258);
    assert.equal(byteSum(new Uint8Array([0x10, 0xff]), 0xffff_fff0), 0x10f - 0x10);
    const big = new Uint8Array(1 << 20).fill(0xff);
    let s = 0;
    for (let i = 0; i < 20; i++) s = byteSum(big, s);
    assert.equal(s, (20 * (1 << 20) * 255) % 2 ** 32);
  });

  it('normalizeName strips leading / and ./ as GNU cpio', () => {
    assert.equal(normalizeName('./a/b'), 'a/b');
    assert.equal(normalizeName('/.//./x'), 'x');
    assert.equal(normalizeName('.'), '.');
    assert.equal(normalizeName('./'), '.');
  });
});

describe('cpio round trips', () => {
  it('decodeCpio(encodeCpio(items)) gives the items back, newc and crc', () => {
    fc.assert(fc.property(items, fc.constantFrom('newc' as const, 'crc' as const), (xs, format) => {
      const bytes = encodeCpio(xs, { format });
      assert.equal(bytes.length % 512, 0);
      const { records, end } = decodeCpio(bytes);
      assert.ok(end <= bytes.length && bytes.subarray(end).every((b) => b === 0));
      assert.equal(records.length, xs.length);
      records.forEach(({ entry, data }, i) => {
        const x = xs[i]!;
        assert.equal(entry.name, x.name);
        assert.equal(entry.mode, x.mode);
        assert.equal(entry.format, format);
        assert.deepEqual(data, x.data ?? new Uint8Array(0));
        assert.equal(entry.ino, x.ino ?? i);
        if (format === 'crc' && (x.mode & 0o170000) === S_IFREG) assert.equal(entry.check, byteSum(data));
      });
      assert.deepEqual(encodeCpio(xs, { format }), bytes, 'encoding twice gives the same bytes');
    }));
  });

  it('writeCpio streams exactly the bytes of encodeCpio, with data in memory or streamed', async () => {
    await fc.assert(fc.asyncProperty(items, fc.boolean(), async (xs, streamed) => {
      const input = streamed
        ? xs.map((x) => (x.data ? { ...x, data: { size: x.data.length, chunks: async function* () { yield x.data!.subarray(0, 3); yield x.data!.subarray(3); } } } : x))
        : xs;
      assert.deepEqual(await collect(writeCpio(input)), encodeCpio(xs));
    }), { numRuns: 50 });
  });

  it('readCpio gives the same entries however the input is chunked', async () => {
    await fc.assert(fc.asyncProperty(items, fc.array(fc.nat({ max: 4000 }), { maxLength: 10 }), async (xs, cuts) => {
      const bytes = encodeCpio(xs, { format: 'crc' });
      const chunks = split(bytes, [...cuts].sort((a, b) => a - b).map((c) => Math.min(c, bytes.length)));
      const got: [string, Uint8Array][] = [];
      let i = 0;
      for await (const { entry, body } of readCpio(new ByteSource(chunks, 'cpio'))) {
        if (i++ % 2 === 0) got.push([entry.name, await collect(body)]); // every other body is left unread: it is skipped
        else got.push([entry.name, xs[i - 1]!.data ?? new Uint8Array(0)]);
      }
      assert.deepEqual(got.map(([n]) => n), xs.map((x) => x.name));
      got.forEach(([, d], k) => assert.deepEqual(d, xs[k]!.data ?? new Uint8Array(0)));
    }), { numRuns: 60 });
  });

  it('names up to PATH_MAX are written and read; longer ones are a RangeError', () => {
    const long = 'a/'.repeat(2047) + 'b'; // 4095 bytes + NUL = 4096
    const { records } = decodeCpio(encodeCpio([{ name: long, mode: 0o100644 }]));
    assert.equal(records[0]!.entry.name, long);
    assert.throws(() => encodeCpio([{ name: long + 'c', mode: 0o100644 }]), RangeError);
  });

  it('dataAlign pads the name so file data lands on the boundary (gen_init_cpio -a)', () => {
    const bytes = encodeCpio([{ name: 'x', mode: 0o40755 }, { name: 'kernel/x86/microcode/GenuineIntel.bin', mode: 0o100644, data: new Uint8Array(33).fill(7) }], { dataAlign: 16 });
    const { records } = decodeCpio(bytes);
    const r = records[1]!;
    assert.equal(r.entry.name, 'kernel/x86/microcode/GenuineIntel.bin');
    assert.equal(r.data.byteOffset % 16, 0);
  });
});
