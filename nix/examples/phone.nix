# A phone boot image, mobile-nixos-style, built with imgkit alone (no mkbootimg, cpio or xz):
#
#   Debian's armmp zImage + our initramfs (cpio, xz with a CRC32 check, as the kernel requires)
#     ├─▶ bootV0: boot.img header v0 with a QCDT `--dt` blob and the device file's base, offsets and
#     │          page size (motorola-potter's values), osm0sis layout
#     └─▶ bootV2: boot.img header v2 with a DTB (AOSP layout)
#   The initramfs's /init prints `marker` and powers off.
#
#   let plain = import ../plain.nix { };
#   in import ./phone.nix { imgkit = plain.imgkitFromCheckout ../..; inherit (plain) runCommand;
#                           kernel = ./zImage; busybox = ./busybox; dt = ./dt.img; dtb = ./board.dtb; }
{ imgkit
, runCommand
, kernel                       # an ARM zImage (Debian's boot/vmlinuz-*-armmp)
, busybox                      # a static armhf busybox
, dt                           # a QCDT dt.img (header v0 `--dt`)
, dtb                          # a DTB for header v2 (a file, or compileDtb's output)
, cmdline ? "console=ttyAMA0 panic=-1"
, flash ? {                    # a mobile-nixos device file's bootimg.flash (motorola-potter)
    offset_base = "0x80000000"; offset_kernel = "0x00008000"; offset_ramdisk = "0x01000000";
    offset_second = "0x00f00000"; offset_tags = "0x00000100"; pagesize = "2048";
  }
, flashV2 ? { offset_base = "0x40000000"; offset_kernel = "0x00008000"; offset_ramdisk = "0x01000000";
    offset_tags = "0x00000100"; offset_dtb = "0x01f00000"; pagesize = "4096"; }
, marker ? "IMGKIT-PHONE-OK"
, sourceDateEpoch ? 315532800
}:
let
  lib = import ../lib { inherit imgkit runCommand; };
  u = import ../lib/util.nix;
  exe = u.imgkitExe imgkit;
in
rec {
  initramfs = runCommand "initramfs.cpio.xz" { SOURCE_DATE_EPOCH = toString sourceDateEpoch; } ''
    printf '#!/bin/sh\nmount -t proc proc /proc\ncat /proc/cmdline\necho "%s"\npoweroff -f\n' ${u.escapeShellArg marker} > init
    {
      echo 'dir /dev 755 0 0'; echo 'nod /dev/console 600 0 0 c 5 1'
      for d in /bin /proc /sys; do echo "dir $d 755 0 0"; done
      echo 'file /bin/busybox ${busybox} 755 0 0'
      for l in sh mount cat poweroff; do echo "slink /bin/$l busybox 777 0 0"; done
      echo "file /init $PWD/init 755 0 0"
    } > list
    ${exe} initramfs pack --spec list --compress xz --mtime ${toString sourceDateEpoch} -o "$out"
  '';

  bootV0 = lib.makeBootImage {
    name = "boot-v0.img";
    inherit kernel cmdline;
    initrd = initramfs;
    bootimg = { inherit dt flash; };
  };

  bootV2 = lib.makeBootImage {
    name = "boot-v2.img";
    inherit kernel cmdline dtb;
    initrd = initramfs;
    headerVersion = 2;
    bootimg.flash = flashV2;
  };
}
