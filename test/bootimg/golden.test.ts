import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeBootImage, encodeBootImage, buildBootImage, buildVendorBootImage, BootHeaderV0, BootHeaderV1Ext, BootHeaderV2Ext,
  BootHeaderV3, BootHeaderV4Ext, VendorBootHeaderV3, VendorBootHeaderV4Ext, VendorRamdiskEntry, unpackOsVersion, packOsVersion,
} from '../../src/bootimg/index.js';
import { FormatError } from '../../src/bytes/errors.js';
import { checkBootId } from '../../src/bootimg/inspect.js';

const dir = new URL('../fixtures/bootimg/', import.meta.url).pathname;
const fx = (n: string) => new Uint8Array(readFileSync(join(dir, n)));
const cstr = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)));

describe('bootimg layout', () => {
  it('struct sizes and offsets match include/bootimg/bootimg.h', () => {
    assert.equal(BootHeaderV0.size, 1632);
    assert.equal(BootHeaderV0.size + BootHeaderV1Ext.size, 1648);
    assert.equal(BootHeaderV0.size + BootHeaderV1Ext.size + BootHeaderV2Ext.size, 1660);
    assert.equal(BootHeaderV3.size, 1580);
    assert.equal(BootHeaderV3.size + BootHeaderV4Ext.size, 1584);
    assert.equal(VendorBootHeaderV3.size, 2112);
    assert.equal(VendorBootHeaderV3.size + VendorBootHeaderV4Ext.size, 2128);
    assert.equal(VendorRamdiskEntry.size, 108);
    assert.equal(BootHeaderV0.offsets.pageSize, 0x24);
    assert.equal(BootHeaderV0.offsets.headerVersion, 0x28);
    assert.equal(BootHeaderV0.offsets.id, 0x240);
    assert.equal(BootHeaderV0.offsets.extraCmdline, 0x260);
    assert.equal(BootHeaderV3.offsets.headerVersion, 0x28);
    assert.equal(BootHeaderV3.offsets.cmdline, 0x2c);
    assert.equal(VendorBootHeaderV3.offsets.headerSize, 0x830);
    assert.equal(VendorBootHeaderV3.offsets.dtbAddr, 0x838);
  });
  it('os_version packs as mkbootimg does (11.2.3, 2021-05 → 0x16081955)', () => {
    assert.equal(packOsVersion([11, 2, 3], [2021, 5]), 0x16081955);
    assert.deepEqual(unpackOsVersion(0x16081955), { version: [11, 2, 3], patch: [2021, 5] });
  });
});

describe('bootimg golden fixtures from Debian mkbootimg (see fixtures/bootimg/SOURCES.md)', () => {
  const kernel = fx('kernel'), ramdisk = fx('ramdisk'), second = fx('second'), dtb = fx('dtb');

  it('v2.img decodes to the fields of its mkbootimg command', async () => {
    const img = decodeBootImage(fx('v2.img'));
    assert.equal(img.kind, 'boot');
    if (img.kind !== 'boot') return;
    assert.equal(img.headerVersion, 2);
    assert.equal(img.pageSize, 2048);
    assert.equal(img.kernelAddr, 0x80008000);
    assert.equal(img.ramdiskAddr, 0x81000000);
    assert.equal(img.secondAddr, 0x80f00000);
    assert.equal(img.tagsAddr, 0x80000100);
    assert.equal(img.dtbAddr, 0x81f00000);
    assert.equal(img.osVersion, 0x16081955);
    assert.equal(cstr(img.name), 'sample');
    assert.equal(cstr(img.cmdline), 'console=ttyMSM0,115200 androidboot.hardware=qcom');
    assert.equal(img.headerSize, 1660);
    assert.deepEqual(img.kernel, kernel);
    assert.deepEqual(img.ramdisk, ramdisk);
    assert.deepEqual(img.second, second);
    assert.deepEqual(img.dtb, dtb);
    assert.equal('0x' + Buffer.from(img.id as Uint8Array).toString('hex'), readFileSync(join(dir, 'v2.id'), 'utf8').trim());
    assert.equal(await checkBootId(img), 'sha1');
  });

  it('buildBootImage reproduces v2.img byte for byte (AOSP and Debian agree on this command)', () => {
    const img = buildBootImage({
      kernel, ramdisk, second, dtb, headerVersion: 2, base: 0x80000000, pageSize: 2048,
      cmdline: 'console=ttyMSM0,115200 androidboot.hardware=qcom', board: 'sample', osVersion: '11.2.3', osPatchLevel: '2021-05-17',
    });
    assert.deepEqual(encodeBootImage(img), fx('v2.img'));
  });

  it('v3.img: Debian writes header_size 1596; AOSP rules write 1580 and nothing else differs', () => {
    const ref = fx('v3.img');
    const img = decodeBootImage(ref);
    assert.ok(img.kind === 'boot' && img.headerVersion === 3 && img.headerSize === 1596);
    assert.deepEqual(encodeBootImage(img), ref);
    const opts = { kernel, ramdisk, headerVersion: 3, cmdline: 'console=ttyS0', osVersion: '12' };
    assert.deepEqual(encodeBootImage(buildBootImage({ ...opts, compat: 'debian29' })), ref);
    const aosp = encodeBootImage(buildBootImage(opts));
    const diff = [...aosp.keys()].filter((i) => aosp[i] !== ref[i]);
    assert.deepEqual(diff, [0x14]);
    assert.equal(new DataView(aosp.buffer).getUint32(0x14, true), 1580);
  });

  it('vendor_v3.img: decodes, re-encodes, and is rebuilt by the debian29 rules', () => {
    const ref = fx('vendor_v3.img');
    const img = decodeBootImage(ref);
    assert.ok(img.kind === 'vendor_boot' && img.headerVersion === 3 && img.headerSize === 2108 && img.pageSize === 2048);
    assert.deepEqual(img.ramdisks[0]!.data, ramdisk);
    assert.deepEqual(img.dtb, dtb);
    assert.deepEqual(encodeBootImage(img), ref);
    const opts = { headerVersion: 3, vendorRamdisk: ramdisk, dtb, vendorCmdline: 'androidboot.console=ttyS0', board: 'vnd', pageSize: 2048 };
    assert.deepEqual(encodeBootImage(buildVendorBootImage({ ...opts, compat: 'debian29' })), ref);
    const aosp = encodeBootImage(buildVendorBootImage(opts));
    assert.deepEqual([...aosp.keys()].filter((i) => aosp[i] !== ref[i]), [0x830]);
  });

  for (const name of readdirSync(join(dir, 'bad'))) {
    const code = name.split('--')[0]!;
    it(`bad/${name} throws FormatError ${code}`, () => {
      assert.throws(() => decodeBootImage(fx(`bad/${name}`)), (e: unknown) => e instanceof FormatError && e.code === code && /\(at 0x[0-9a-f]+\)$/.test(e.message));
    });
  }
});
