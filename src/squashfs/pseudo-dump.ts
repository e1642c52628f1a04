/**
 * An image as a mksquashfs pseudo file (`unsquashfs -pf`, squashfs-tools 4.5.1 pseudo_scan1/2):
 * one definition per inode, directories before their contents, then the data section with every
 * file's bytes (holes written out as zeros). `mksquashfs - IMG -pf FILE` (or `squashfs pack`)
 * rebuilds the image from it:
 *
 *   / D time mode uid gid                   the root, then each path without its leading "/"
 *   name R time mode uid gid size offset    file; offset into the data section
 *   name S time mode uid gid target         symlink
 *   name B|C time mode uid gid major minor  device
 *   name I time mode uid gid s|f            socket or fifo
 *   name L first-name                       later names of a hard link
 *   #
 *   # START OF DATA - DO NOT MODIFY
 *   #
 *   <data>
 *
 * Names escape quote, double quote, backslash and space (and tab) with a backslash. Devices carry
 * the real major and minor, where unsquashfs 4.5 prints `rdev >> 8` and `rdev & 0xff` (wrong for
 * minor > 255). With `xattrs`, each inode's xattrs follow it as `name x key=value` lines
 * (unsquashfs 4.6; mksquashfs 4.5 does not read them).
 */
import { FormatError } from '../bytes/errors.js';
import type { SquashfsInode } from './inode.js';
import { decodeRdev, FORMAT, MAX_DEPTH } from './layout.js';
import type { Squashfs } from './read.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** What a pseudo file cannot say: a FormatError at `offset` (where the inode or entry is), exit status 1. */
const cannot = (offset: number, what: string) => new FormatError(FORMAT, 'UNSUPPORTED', offset, `Cannot write a pseudo file: ${what}`);

/** process_filename(): a name as a pseudo file word. */
function word(path: string, offset: number): string {
  if (path.includes('\n')) throw cannot(offset, `the name ${JSON.stringify(path)} holds a newline`);
  // and a leading '#' (of each component), which at the start of a line would make it a comment; mksquashfs
  // and imgkit read it back without the backslash
  return path.replace(/['"\\ \t]/g, '\\$&').replace(/^#/, '\\#');
}

/** print_xattr_name_value() of unsquashfs 4.6: printable values as they are, others as 0t with \ooo escapes. */
function xattrText(value: Uint8Array): string {
  const text = Buffer.from(value).toString('latin1');
  // a printable value that looks like an encoding prefix would be misread: encode it too
  if (/^[\x20-\x7e]*$/.test(text) && !/^0[xXsStTbB]/.test(text)) return text;
  let out = '0t';
  for (const b of value) out += b < 32 || b > 126 || b === 0x5c ? `\\${b.toString(8).padStart(3, '0')}` : String.fromCharCode(b);
  return out;
}

/**
 * The pseudo file of an image, as chunks: the definitions, then the file data streamed from the
 * image. What the format cannot hold (a newline in a name or symlink target, an xattr name with a
 * newline or '=') and a tree deeper than 4096 or with a loop are FormatErrors.
 *
 * @example
 * ```ts
 * const fs = await openSquashfs(await fileAccess('root.sqfs', 'squashfs'));
 * for await (const c of formatPseudoFile(fs)) process.stdout.write(c);
 * ```
 */
export async function* formatPseudoFile(fs: Squashfs, o: { xattrs?: boolean } = {}): AsyncGenerator<Uint8Array> {
  const files: SquashfsInode[] = [];
  const first = new Map<number, string>();
  let text = '';
  let offset = 0;
  const chunks: Uint8Array[] = [];
  const emit = (line: string) => {
    text += line + '\n';
    if (text.length > 65536) {
      chunks.push(te.encode(text));
      text = '';
    }
  };
  const define = async (name: string, inode: SquashfsInode, at: number) => {
    const head = `${name} ${'DRSBCII'[KIND_INDEX[inode.kind]]} ${inode.mtime} ${inode.mode.toString(8)} ${await fs.uid(inode)} ${await fs.gid(inode)}`;
    switch (inode.kind) {
      case 'dir':
        emit(head);
        break;
      case 'file':
        emit(`${head} ${inode.size} ${offset}`);
        offset += inode.size;
        files.push(inode);
        break;
      case 'symlink': {
        const target = td.decode(inode.target);
        if (target.includes('\n')) throw cannot(at, `the symlink ${name} points to a target with a newline`);
        emit(`${head} ${target}`);
        break;
      }
      case 'blockdev':
      case 'chardev': {
        const { major, minor } = decodeRdev(inode.rdev);
        emit(`${head} ${major} ${minor}`);
        break;
      }
      default:
        emit(`${head} ${inode.kind === 'socket' ? 's' : 'f'}`);
    }
    if (o.xattrs)
      for (const x of await fs.xattrs(inode)) {
        // mksquashfs reads the name up to the first '='; a line ends at a newline
        if (/[\n=]/.test(x.name)) throw cannot(at, `${name} has an xattr named ${JSON.stringify(x.name)}, which a pseudo file cannot hold`);
        emit(`${name} x ${x.name}=${xattrText(x.value)}`);
      }
  };
  const inodeAt = (ref: { block: number }) => fs.superblock.inodeTableStart + ref.block;
  const root = await fs.root();
  await define('/', root, inodeAt(fs.superblock.rootInode));
  // depth-first with an explicit stack (a recursive walk overflows Node's stack long before 4096 levels)
  const stack: { path: string; entries: Awaited<ReturnType<Squashfs['readdir']>>; next: number; inode: number }[] = [];
  const open = new Set<number>();
  let entered = 0;
  const enter = async (dir: SquashfsInode, path: string, at: number) => {
    if (stack.length > MAX_DEPTH) throw cannot(at, `directories nest deeper than ${MAX_DEPTH} at ${path || '/'}`);
    // a directory inside itself, or directories shared by several entries (more of them than the image has inodes)
    if (open.has(dir.inodeNumber) || ++entered > fs.superblock.inodes)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot walk ${path || '/'}: directory inode ${dir.inodeNumber} is reached again (a loop)`);
    open.add(dir.inodeNumber);
    stack.push({ path, entries: await fs.readdir(dir), next: 0, inode: dir.inodeNumber });
  };
  await enter(root, '', inodeAt(fs.superblock.rootInode));
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const e = top.entries[top.next++];
    if (!e) {
      open.delete(top.inode);
      stack.pop();
      continue;
    }
    const at = inodeAt(e.inode);
    const name = top.path + word(td.decode(e.name), at);
    const inode = await fs.inode(e.inode);
    if (inode.kind === 'dir') {
      await define(name, inode, at);
      await enter(inode, name + '/', at);
      continue;
    }
    const seen = first.get(inode.inodeNumber);
    if (seen !== undefined) emit(`${name} L ${seen}`);
    else {
      first.set(inode.inodeNumber, name);
      await define(name, inode, at);
    }
    yield* chunks.splice(0);
  }
  emit('#\n# START OF DATA - DO NOT MODIFY\n#');
  yield* chunks.splice(0);
  yield te.encode(text);
  for (const f of files) yield* fs.createReadStream(f);
}

const KIND_INDEX = { dir: 0, file: 1, symlink: 2, blockdev: 3, chardev: 4, fifo: 5, socket: 6 } as const;
