/** fast-check models of cpio entries. */
import fc from 'fast-check';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, type CpioItem } from '../../src/cpio/index.js';

export const u32 = fc.nat({ max: 0xffff_ffff });

const component = fc.stringMatching(/^[a-zA-Z0-9._\u00e9\u4e2d-]{1,12}$/).filter((s) => s !== '.' && s !== '..' && s !== 'TRAILER!!!');
export const name = fc.array(component, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));

const perms = fc.nat({ max: 0o7777 });
export const item: fc.Arbitrary<CpioItem & { data?: Uint8Array }> = fc.oneof(
  fc.record({ name, mode: perms.map((p) => S_IFREG | p), data: fc.uint8Array({ maxLength: 300 }), mtime: u32, uid: u32, gid: u32, ino: u32, nlink: u32 }),
  fc.record({ name, mode: perms.map((p) => S_IFDIR | p), mtime: u32 }),
  fc.record({ name, mode: perms.map((p) => S_IFLNK | p), data: fc.uint8Array({ minLength: 1, maxLength: 64, min: 1 }) }),
  fc.record({ name, mode: fc.constantFrom(S_IFCHR, S_IFBLK).chain((t) => perms.map((p) => t | p)), rdevMajor: u32, rdevMinor: u32, devMajor: u32, devMinor: u32 }),
  fc.record({ name, mode: fc.constantFrom(S_IFIFO, S_IFSOCK) }),
);
export const items = fc.array(item, { maxLength: 12 });
