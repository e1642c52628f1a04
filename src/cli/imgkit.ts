/** `imgkit <tool> …`: the umbrella command; loads only the tool asked for. */
import { runMain, UsageError } from './run.js';

const TOOLS: Record<string, string> = {
  bootimg: 'Android boot.img, vendor_boot and init_boot: pack, unpack, repack, info',
  uimage: 'U-Boot legacy uImage: pack (mkimage flags), list, extract',
  fdt: 'device trees: compile (dtc), decompile, dump, get, set, overlay',
  initramfs: 'cpio initramfs: pack, ls, extract, cat',
  squashfs: 'squashfs: pack (mksquashfs flags), ls, cat, extract, info',
  firmware: 'router flash images: kernel uImage + rootfs on erase blocks within a budget; info',
  compress: 'compress a file (gzip, xz, lzma with the size in the header, zstd, lz4 …)',
  decompress: 'decompress a file, detecting its format',
  demo: 'build the sample images from bundled inputs and list them',
};

const HELP = `Usage: imgkit <tool> [arguments…]

Tools:
${Object.entries(TOOLS)
  .map(([k, v]) => `  ${k.padEnd(10)} ${v}`)
  .join('\n')}

Each tool is also installed as its own command ('bootimg …'). 'imgkit <tool> --help' shows its options.
`;

runMain('imgkit', async (argv) => {
  const [tool, ...rest] = argv;
  if (tool === undefined || tool === '--help' || tool === '-h' || tool === 'help') {
    process.stdout.write(HELP);
    return tool === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(TOOLS, tool)) throw new UsageError(`unknown tool '${tool}'`);
  process.argv = [process.argv[0]!, `imgkit ${tool}`, ...rest];
  await import(`./${tool}.js`);
});
