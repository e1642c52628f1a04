# The README's example: a phone boot.img and a router kernel + rootfs, built with imgkit instead of
# mkbootimg, cpio, mksquashfs and mkimage. `nix-build nix/examples/readme-example.nix -A bootImage`.
{ pkgs ? import <nixpkgs> { }
, imgkitLib ? import ../. { inherit pkgs; }   # or: imgkit.lib.${system} from the flake
, kernel ? "${pkgs.linux}/${pkgs.stdenv.hostPlatform.linux-kernel.target}"
, busybox ? pkgs.pkgsStatic.busybox
}:
rec {
  # nixpkgs' makeInitrd arguments.
  initrd = imgkitLib.makeInitrd {
    contents = [ { object = "${busybox}/bin/busybox"; symlink = "/init"; } ];
    compressor = "xz";
  };

  # mobile-nixos' bootimg.nix arguments (a device file's flash offsets), header v0 as osm0sis writes it.
  bootImage = imgkitLib.makeBootImage {
    inherit kernel;
    initrd = "${initrd}/initrd";
    cmdline = "console=ttyMSM0,115200n8 quiet";
    bootimg.flash = {
      offset_base = "0x80000000"; offset_kernel = "0x00008000"; offset_ramdisk = "0x01000000";
      offset_second = "0x00f00000"; offset_tags = "0x00000100"; pagesize = "2048";
    };
  };

  # A router: LZMA kernel uImage for a vendor U-Boot, and an xz squashfs of the system closure.
  uImage = imgkitLib.makeUImage {
    inherit kernel;
    arch = "mips";
    loadAddress = "0x80060000";
    lzma = { lc = 1; lp = 2; pb = 2; dict = "1MiB"; };
  };
  rootfs = imgkitLib.makeSquashfs {
    storeContents = [ busybox ];
    comp = "zstd -Xcompression-level 19";
  };
}
