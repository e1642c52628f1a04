# Every builder of nix/lib, run with plain `derivation` (nix/plain.nix): no nixpkgs. nix.test.ts builds
# these attributes with nix-build and compares each output with the same image made by the CLI directly
# and by the reference tool.
#   repo    the checkout (a path: its bin/dist/node_modules are copied to the store as the imgkit package)
#   inputs  a folder of test inputs written by the test (kernel, dt.img, board.dts …)
#   imgkitStorePath  an imgkit already built from this harness (`-A imgkit`): every later evaluation uses that
#           one instead of copying the checkout again (each `-A` re-evaluates, and dist/ may change meanwhile)
{ repo, inputs, node ? "/usr/bin/node", path ? "/usr/local/bin:/usr/bin:/bin", imgkitStorePath ? null }:
let
  plain = import (repo + "/nix/plain.nix") { inherit node path; };
  imgkit = if imgkitStorePath == null then plain.imgkitFromCheckout repo
    else { outPath = builtins.storePath imgkitStorePath; };
  lib = import (repo + "/nix/lib") { inherit imgkit; inherit (plain) runCommand closureInfo; };
  inherit (plain) runCommand;
  # Imported by content under a fixed name, so the test's temporary folder name does not matter.
  inp = builtins.path { path = inputs; name = "imgkit-nix-test-inputs"; };

  # A tiny "system": an init script whose closure holds a second store path.
  message = runCommand "message" { } ''
    mkdir -p "$out/share"
    printf 'booted by imgkit\n' > "$out/share/message"
  '';
  app = runCommand "app" { } ''
    mkdir -p "$out/bin"
    printf '#!/bin/sh\ncat ${message}/share/message\n' > "$out/bin/init"
    chmod +x "$out/bin/init"
    ln -s init "$out/bin/sh-link"
  '';
  contents = [ { object = "${app}/bin/init"; symlink = "/init"; } { object = app; symlink = "/sbin/app"; } ];

  dtsArgs = { dts = "${inp}/board.dts"; includes = [ "${inp}/include" ]; };
  fitArgs = {
    kernel = "${inp}/kernel";
    arch = "arm";
    loadAddress = "0x80008000";
    fdts = [ dtb ];
    ramdisk = "${initrdXz}/initrd";
    ramdiskCompression = "none";
  };
  dtb = lib.compileDtb (dtsArgs // { commandLine = "console=ttyS0,115200 root=/dev/mtdblock2 rootfstype=squashfs"; });
  initrdXz = lib.makeInitrd { inherit contents; compressor = "xz"; prepend = [ "${inp}/early.cpio" ]; };
in
rec {
  inherit imgkit app message lib;
  inputs = inp;
  closure = plain.closureInfo { rootPaths = [ app ]; };

  initrdGzip = lib.makeInitrd { inherit contents; };
  inherit initrdXz;
  initrdUImage = lib.makeInitrd { inherit contents; compressor = "zstd"; makeUInitrd = true; uInitrdArch = "arm64"; };

  squashfsXz = lib.makeSquashfs { storeContents = [ app ]; };
  squashfsPlain = lib.makeSquashfs { storeContents = [ app ]; comp = "gzip -noI -noD -noF -noX"; fileName = "plain"; };

  dtbPlain = lib.compileDtb dtsArgs;
  inherit dtb;

  # motorola-potter's values (second offset 0x00f00000: osm0sis writes second_addr) with a QCDT dt.img.
  bootimgPotter = lib.makeBootImage {
    kernel = "${inp}/kernel";
    initrd = "${initrdGzip}/initrd";
    cmdline = "console=tty0 androidboot.hardware=qcom";
    bootimg = {
      dt = "${inp}/dt.img";
      flash = { offset_base = "0x80000000"; offset_kernel = "0x00008000"; offset_ramdisk = "0x01000000";
        offset_second = "0x00f00000"; offset_tags = "0x00000100"; pagesize = "2048"; };
    };
  };
  # sdm845's values with an appended DTB: osm0sis and AOSP mkbootimg agree byte for byte here.
  bootimgSdm845 = lib.makeBootImage {
    kernel = "${inp}/kernel";
    initrd = "${initrdXz}/initrd";
    cmdline = "console=ttyMSM0,115200n8";
    appendDTB = [ "${dtb}" ];
    bootimg.flash = { offset_base = "0x00000000"; offset_kernel = "0x00008000"; offset_ramdisk = "0x01000000";
      offset_second = "0x00000000"; offset_tags = "0x00000100"; pagesize = "4096"; };
  };
  bootimgV2 = lib.makeBootImage {
    kernel = "${inp}/kernel";
    initrd = "${initrdXz}/initrd";
    headerVersion = 2;
    dtb = dtb;
    bootimg.flash = { offset_base = "0x80000000"; pagesize = 4096; };
  };

  # NixWRT: `lzma -k -z` (unknown size) then mkimage -C lzma.
  uimageNixwrt = lib.makeUImage { kernel = "${inp}/vmlinux.bin"; loadAddress = "0x80060000"; lzma.unknownSize = true; };
  # Vendor U-Boot: lc1 lp2 pb2, 1 MiB dictionary, the real size in the LZMA header.
  uimageVendor = lib.makeUImage {
    kernel = "${inp}/vmlinux.bin"; loadAddress = "0x80060000"; entryPoint = "0x80060400";
    lzma = { lc = 1; lp = 2; pb = 2; dict = "1MiB"; };
  };
  uimageGzip = lib.makeUImage { kernel = "${inp}/vmlinux.bin"; compression = "gzip"; imageName = "QEMU Malta"; };

  fitIts = runCommand "image.its" { text = lib.fitImageSource fitArgs; passAsFile = [ "text" ]; } ''
    cp "$textPath" "$out"
  '';
  fit = lib.makeFitImage fitArgs;
}
