# An initramfs holding the closure of some store objects, as nixpkgs' pkgs/build-support/kernel/make-initrd.nix
# builds it: the same arguments (`contents = [ { object; symlink; suffix ? ""; } ]`, `compressor`,
# `compressorArgs`, `prepend`, `makeUInitrd` …) and the same $out layout ($out/initrd, plus
# $out/initrd<extension> or $out/initrd.img). The cpio is what
#   find * .[^.*] -print0 | sort -z | cpio -o -H newc -R +0:+0 --reproducible --null
# writes after `touch -h -d @1` (GNU cpio >= 2.14), written and compressed by imgkit.
{ imgkit, runCommand, ... }:
let
  u = import ./util.nix;
  inherit (u) escapeShellArg escapeShellArgs optionalString;
  # nixpkgs' initrd-compressor-meta.nix, for the compressors imgkit writes itself.
  meta = {
    cat = { imgkit = "none"; defaultArgs = [ ]; ubootName = "none"; extension = ".cpio"; };
    gzip = { imgkit = "gzip"; defaultArgs = [ "-9n" ]; ubootName = "gzip"; extension = ".gz"; };
    pigz = meta.gzip;
    bzip2 = { imgkit = "bzip2"; defaultArgs = [ ]; ubootName = "bzip2"; extension = ".bz2"; };
    xz = { imgkit = "xz"; defaultArgs = [ "--check=crc32" "--lzma2=dict=512KiB" ]; extension = ".xz"; };
    pixz = meta.xz // { defaultArgs = [ ]; };
    lzma = { imgkit = "lzma"; defaultArgs = [ "--check=crc32" "--lzma1=dict=512KiB" ]; ubootName = "lzma"; extension = ".lzma"; };
    lz4 = { imgkit = "lz4"; defaultArgs = [ "-l" ]; ubootName = "lz4"; extension = ".lz4"; };
    zstd = { imgkit = "zstd"; defaultArgs = [ "-10" ]; ubootName = "zstd"; extension = ".zst"; };
  };
in
{ name ? "initrd"
  # A name from the table above (imgkit compresses), or any other command, or a function of a package
  # set returning one, as in nixpkgs (the cpio is then piped through it).
, compressor ? "gzip"
, compressorArgs ? null
, extension ? null
, contents
, prepend ? [ ]
, makeUInitrd ? false
, uInitrdArch ? "arm"
, uInitrdCompression ? null
, pkgsBuildHost ? { }          # what a function `compressor` is called with
, sourceDateEpoch ? 315532800  # the uImage's ih_time (nixpkgs' stdenv default); file times are always 1
}:
let
  command = if builtins.isFunction compressor then compressor pkgsBuildHost else compressor;
  base = builtins.elemAt (builtins.match "([^ ]*/)?([^ ]+).*" command) 1;
  m = if meta ? ${command} then meta.${command} else meta.${base} or { };
  native = meta ? ${command};
  argsReal = if compressorArgs == null then m.defaultArgs or [ ] else compressorArgs;
  # imgkit's defaults are nixpkgs' defaults; a single "-N"/"-Nn" level is the only other argument understood.
  levelOf = a: let x = builtins.match "-([0-9]+)n?" a; in if x == null then null else builtins.head x;
  imgkitArgs =
    if !native then [ "--compress" "none" ]
    else if argsReal == m.defaultArgs then [ "--compress" m.imgkit ]
    else if builtins.length argsReal == 1 && levelOf (builtins.head argsReal) != null
    then [ "--compress" m.imgkit "--level" (levelOf (builtins.head argsReal)) ]
    else throw "makeInitrd: compressorArgs ${builtins.toJSON argsReal} for ${command}: imgkit takes only a level (\"-N\"); use the compressor's full path to pipe through it";
  pipe = optionalString (!native) " | ${command} ${escapeShellArgs argsReal}";
  ext = if extension != null then extension
    else m.extension or (throw "makeInitrd: unrecognised compressor ${base}, please specify extension");
  ubootComp = if uInitrdCompression != null then uInitrdCompression
    else m.ubootName or (throw "makeInitrd: unrecognised compressor ${base}, please specify uInitrdCompression");
  n = builtins.length contents;
  graph = builtins.concatLists (builtins.genList (i:
    let x = builtins.elemAt contents i; in
    [ "closure-${u.toValidStoreName (baseNameOf x.symlink)}-${toString i}" x.object ]) n);
  links = builtins.concatStringsSep "\n" (map (x: ''
    mkdir -p "$(dirname root/${escapeShellArg x.symlink})"
    ln -s ${escapeShellArg "${x.object}${x.suffix or ""}"} root/${escapeShellArg x.symlink}
  '') contents);
  # An external compressor gets only the cpio; the prepended archives go first, uncompressed, as in nixpkgs.
  prependArgs = optionalString native (builtins.concatStringsSep " " (map (p: "--prepend ${p}") prepend));
  prependCat = optionalString (!native) (builtins.concatStringsSep "\n" (map (p: "cat ${p} >> \"$out/initrd\"") prepend));
in
runCommand name { exportReferencesGraph = graph; SOURCE_DATE_EPOCH = toString sourceDateEpoch; } ''
  ${u.closurePathsFn}
  mkdir root root/dev root/sys root/proc
  ${links}
  # Paths in cpio archives must be relative, otherwise the kernel won't unpack them.
  closurePaths closure-* > store-paths
  (cd root && while IFS= read -r p; do cp -prd --parents "$p" .; done) < store-paths
  mkdir -p "$out"
  ${prependCat}
  (cd root && shopt -s nullglob dotglob && find * -print0 | LC_ALL=C sort -z \
    | ${u.imgkitExe imgkit} initramfs pack -0 --mtime 1 ${prependArgs} ${escapeShellArgs imgkitArgs} -o -${pipe} \
    >> "$out/initrd")
  ${if makeUInitrd then ''
    ${u.imgkitExe imgkit} uimage pack -q -A ${escapeShellArg uInitrdArch} -O linux -T ramdisk -C ${escapeShellArg ubootComp} -d "$out/initrd" "$out/initrd.img"
    ln -sf initrd.img "$out/initrd"
  '' else ''
    ln -s initrd "$out/initrd${ext}"
  ''}
''
