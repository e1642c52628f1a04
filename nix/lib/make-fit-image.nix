# A U-Boot FIT image (.itb) of a kernel, device trees and an optional ramdisk: the .its source is written
# here (one configuration per device tree, the first the default) and compiled by `imgkit uimage fit`, as
# `mkimage -f image.its image.itb` does. Pass `its` to compile a source of your own instead.
{ imgkit, runCommand, ... }:
let
  u = import ./util.nix;
  inherit (u) optionalString;
  cells = v: "<${if builtins.isInt v then toString v else v}>";
  hashes = algos: builtins.concatStringsSep "" (builtins.genList (i: ''
            hash-${toString (i + 1)} { algo = "${builtins.elemAt algos i}"; };
  '') (builtins.length algos));

  fitImageSource =
    { description ? "imgkit FIT image"
    , kernel
    , arch                      # U-Boot names: arm, arm64, mips, riscv, x86 …
    , os ? "linux"
    , loadAddress
    , entryPoint ? loadAddress
    , compression ? "none"      # what `kernel` already is: none | gzip | lzma | lzo | lz4 | zstd | bzip2
    , fdts ? [ ]
    , ramdisk ? null
    , ramdiskCompression ? "none"
    , hashAlgos ? [ "crc32" "sha1" ]
    , ...
    }:
    let
      nf = builtins.length fdts;
      fdtNode = i: ''
        fdt-${toString (i + 1)} {
            description = "${baseNameOf (toString (builtins.elemAt fdts i))}";
            data = /incbin/("${builtins.elemAt fdts i}");
            type = "flat_dt";
            arch = "${arch}";
            compression = "none";
${hashes hashAlgos}        };
      '';
      confNode = i: ''
        conf-${toString (i + 1)} {
            description = "${baseNameOf (toString (builtins.elemAt fdts i))}";
            kernel = "kernel-1";
            fdt = "fdt-${toString (i + 1)}";
            ${optionalString (ramdisk != null) ''ramdisk = "ramdisk-1";''}
        };
      '';
    in
    ''
      /dts-v1/;

      / {
          description = "${description}";
          #address-cells = <1>;

          images {
              kernel-1 {
                  description = "kernel";
                  data = /incbin/("${kernel}");
                  type = "kernel";
                  arch = "${arch}";
                  os = "${os}";
                  compression = "${compression}";
                  load = ${cells loadAddress};
                  entry = ${cells entryPoint};
      ${hashes hashAlgos}            };
      ${builtins.concatStringsSep "" (builtins.genList fdtNode nf)}
      ${optionalString (ramdisk != null) ''
              ramdisk-1 {
                  description = "ramdisk";
                  data = /incbin/("${ramdisk}");
                  type = "ramdisk";
                  arch = "${arch}";
                  os = "${os}";
                  compression = "${ramdiskCompression}";
      ${hashes hashAlgos}            };
      ''}
          };

          configurations {
              default = "conf-1";
      ${if nf == 0 then ''
              conf-1 {
                  kernel = "kernel-1";
                  ${optionalString (ramdisk != null) ''ramdisk = "ramdisk-1";''}
              };
      '' else builtins.concatStringsSep "" (builtins.genList confNode nf)}
          };
      };
    '';
in
{
  inherit fitImageSource;
  makeFitImage = { name ? "image.itb", its ? null, sourceDateEpoch ? 315532800, ... }@args:
    runCommand name {
      SOURCE_DATE_EPOCH = toString sourceDateEpoch;
      itsText = if its != null then "" else fitImageSource args;
      passAsFile = [ "itsText" ];
    } ''
      ${u.imgkitExe imgkit} uimage fit -f ${if its != null then "${its}" else "\"$itsTextPath\""} "$out"
    '';
}
