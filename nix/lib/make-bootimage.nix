# Android boot.img, as mobile-nixos' modules/system-types/android/bootimg.nix builds it with osm0sis'
# mkbootimg: the same arguments (`bootimg.flash.offset_*` strings, `bootimg.dt`, `appendDTB`), and with the
# default `compat = "osm0sis"` the same bytes. Newer devices: `headerVersion = 2` with `dtb` (AOSP rules).
{ imgkit, runCommand, ... }:
let
  u = import ./util.nix;
  inherit (u) escapeShellArg escapeShellArgs optionalString;
in
{ name ? "boot.img"
, kernel                 # the kernel file (Image.gz, zImage …)
, initrd                 # the ramdisk file
, cmdline ? ""           # mobile-nixos: concatStringsSep " " config.boot.kernelParams
, bootimg ? { }          # { dt ? null; flash = { offset_base; offset_kernel; offset_second; offset_ramdisk; offset_tags; pagesize; }; }
, appendDTB ? null       # list of DTB paths (relative to the kernel's folder, or absolute) appended to the kernel
, headerVersion ? 0
, dtb ? null             # header v2 DTB
, compat ? (if headerVersion == 0 then "osm0sis" else "aosp")
, extraArgs ? [ ]        # more `bootimg pack` (mkbootimg) arguments: [ "--os_version" "13.0.0" ]
}:
let
  flash = bootimg.flash or { };
  dt = bootimg.dt or null;
  # mobile-nixos passes every address as a string; numbers are accepted too.
  flag = opt: attr: optionalString (flash ? ${attr}) "${opt} ${escapeShellArg (toString flash.${attr})}";
in
assert dt == null || appendDTB == null;
runCommand name { } ''
  kernel=${kernel}
  ${optionalString (appendDTB != null) ''
    kernel=$PWD/kernel-with-dtbs
    (cd "$(dirname ${kernel})" && cat ${kernel} ${escapeShellArgs appendDTB} > "$kernel")
  ''}
  ${u.imgkitExe imgkit} bootimg pack --compat ${compat} \
    --kernel "$kernel" \
    ${optionalString (dt != null) "--dt ${dt}"} \
    ${optionalString (headerVersion != 0) "--header_version ${toString headerVersion}"} \
    ${optionalString (dtb != null) "--dtb ${dtb}"} \
    --ramdisk ${initrd} \
    --cmdline ${escapeShellArg cmdline} \
    ${flag "--base" "offset_base"} \
    ${flag "--kernel_offset" "offset_kernel"} \
    ${flag "--second_offset" "offset_second"} \
    ${flag "--ramdisk_offset" "offset_ramdisk"} \
    ${flag "--tags_offset" "offset_tags"} \
    ${flag "--dtb_offset" "offset_dtb"} \
    ${flag "--pagesize" "pagesize"} \
    ${escapeShellArgs extraArgs} \
    -o "$out"
''
