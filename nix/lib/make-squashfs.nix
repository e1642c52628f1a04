# A squashfs image of the closures of some store paths, as nixpkgs' nixos/lib/make-squashfs.nix builds it
# (same arguments, same mksquashfs command line, run by `imgkit squashfs pack`): the root holds
# nix-path-registration (for `nix-store --load-db`) and each store path of the closure as a directory.
{ imgkit, runCommand, closureInfo, ... }:
let
  u = import ./util.nix;
  inherit (u) escapeShellArg optionalString;
in
{ fileName ? "squashfs"
, storeContents ? [ ]
, pseudoFiles ? [ ]              # mksquashfs -p definitions
, noStrip ? false                # mksquashfs 4.6 -no-strip
, comp ? "xz -Xdict-size 100%"   # "-comp ${comp}"; null: -no-compression
, sourceDateEpoch ? 315532800    # the image time (nixpkgs' stdenv default)
}:
let
  info = if closureInfo == null
    then throw "makeSquashfs needs closureInfo (nixpkgs' pkgs.closureInfo, or plain.nix's)"
    else closureInfo { rootPaths = storeContents; };
  pseudoFilesArgs = builtins.concatStringsSep " " (map (f: "-p ${escapeShellArg f}") pseudoFiles);
  compFlag = if comp == null then "-noI -noD -noF -noX" else "-comp ${comp}";
in
runCommand "${fileName}.img" { SOURCE_DATE_EPOCH = toString sourceDateEpoch; } ''
  closureInfo=${info}
  # Also include a manifest of the closures in a format suitable for nix-store --load-db.
  cp $closureInfo/registration nix-path-registration
  ${u.imgkitExe imgkit} squashfs pack nix-path-registration $(cat $closureInfo/store-paths) "$out" ${pseudoFilesArgs} \
    -no-hardlinks ${optionalString noStrip "-no-strip"} -keep-as-directory -all-root -b 1048576 ${compFlag} \
    -processors "''${NIX_BUILD_CORES:-1}" -root-mode 0755 -quiet
''
