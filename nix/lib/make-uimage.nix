# A U-Boot legacy uImage around a kernel, as NixWRT builds router kernels (`lzma -k -z vmlinux.stripped`
# then `mkimage -A mips -O linux -T kernel -C lzma -a … -e … -n … -d …`), with the compression done by
# imgkit. LZMA for vendor U-Boots: `lzma = { lc = 1; lp = 2; pb = 2; dict = "1MiB"; }` (props 0x6d, the
# real size in the header); `lzma.unknownSize = true` writes the all-ones size as `lzma`/`xz` do.
{ imgkit, runCommand, ... }:
let
  u = import ./util.nix;
  inherit (u) escapeShellArg escapeShellArgs optionals;
in
{ name ? "kernel.image"
, kernel                       # the raw kernel (objcopy -O binary), uncompressed unless compress = false
, arch ? "mips"                # mkimage -A
, os ? "linux"                 # mkimage -O
, type ? "kernel"              # mkimage -T
, loadAddress ? "0x80000000"   # mkimage -a (string or number)
, entryPoint ? loadAddress     # mkimage -e
, compression ? "lzma"         # none | gzip | lzma | xz | zstd | lz4 | bzip2 | lzo (mkimage -C)
, compress ? true              # false: `kernel` is already compressed; only the header says `compression`
, level ? null
, lzma ? { }                   # { lc; lp; pb; dict; unknownSize ? false; }
, imageName ? "MIPS NixWrt Linux"   # mkimage -n
, sourceDateEpoch ? 315532800  # ih_time (nixpkgs' stdenv default)
, extraArgs ? [ ]
}:
let
  num = v: if builtins.isInt v then toString v else v;
  opt = o: v: optionals (v != null) [ o (toString v) ];
  lzmaArgs = optionals (compression == "lzma" && compress)
    (opt "--lc" (lzma.lc or null) ++ opt "--lp" (lzma.lp or null) ++ opt "--pb" (lzma.pb or null)
      ++ opt "--dict" (lzma.dict or null) ++ optionals (lzma.unknownSize or false) [ "--unknown-size" ]);
  args = [ "-A" arch "-O" os "-T" type "-C" compression "-a" (num loadAddress) "-e" (num entryPoint) "-n" imageName ]
    ++ optionals (compress && compression != "none") [ "--compress" compression ]
    ++ opt "--level" level ++ lzmaArgs ++ extraArgs;
in
runCommand name { SOURCE_DATE_EPOCH = toString sourceDateEpoch; } ''
  ${u.imgkitExe imgkit} uimage pack -q ${escapeShellArgs args} -d ${kernel} "$out"
''
