# A router firmware, NixWRT-style, built with imgkit alone (no mkimage, lzma, mksquashfs, cpio or dd):
#
#   Debian's 4kc-malta kernel (an ELF) ──objcopy -O binary──▶ vmlinux.bin (the PT_LOAD bytes)
#     ├─▶ kernelGzip: uImage -C gzip (U-Boot Malta under QEMU has no LZMA; this is the one booted)
#     └─▶ kernelLzma: uImage -C lzma, lc1 lp2 pb2, 1 MiB dictionary, real size (vendor U-Boots)
#   busybox-static (mipsel) ──▶ rootfs: squashfs, xz, 256 KiB blocks (optionally in two steps:
#     the programs first, then the skeleton appended with -root-becomes usr)
#   firmware: kernelGzip at 0, rootfs at the next 64 KiB erase block, within `flashSize`
#     (`imgkit firmware pack` fails naming the bytes over); firmwareVendor: the same with kernelLzma
#   initramfs: our cpio (gzip), whose /init loads squashfs.ko and phram.ko from the kernel package,
#     maps the rootfs part of the firmware (left in RAM by the boot loader) as an MTD device, mounts
#     /dev/mtdblock0 and runs /bin/hello from the squashfs, which prints `marker`.
#
#   let plain = import ../plain.nix { };
#   in import ./router.nix { imgkit = plain.imgkitFromCheckout ../..; inherit (plain) runCommand;
#                            kernel = ./vmlinuz; modules = ./modules; busybox = ./busybox; }
{ imgkit                     # package with bin/imgkit, or the executable's path (see nix/lib)
, runCommand                 # nixpkgs' runCommand (needs objcopy from binutils on PATH) or plain.nix's
, kernel                     # Debian's boot/vmlinuz-*-4kc-malta (ELF)
, modules                    # a folder with squashfs.ko and phram.ko from the same kernel package
, busybox                    # a static mipsel busybox
, flashSize ? "8MiB"
, eraseBlock ? "64KiB"
, loadAddress ? "0x810f0000" # the ELF's PT_LOAD address and entry point
, firmwareAddress ? "0x04000000"  # physical address the firmware sits at when /init maps it (QEMU loader)
, twoStepRootfs ? false      # build the squashfs in two steps (needs `squashfs pack -root-becomes`)
, marker ? "IMGKIT-ROUTER-OK"
, sourceDateEpoch ? 315532800
}:
let
  lib = import ../lib { inherit imgkit runCommand; };
  u = import ../lib/util.nix;
  exe = u.imgkitExe imgkit;
  env = { SOURCE_DATE_EPOCH = toString sourceDateEpoch; };
  sq = "-all-root -comp xz -b 256K -processors 1 -quiet";
in
rec {
  # NixWRT: `objcopy -O binary vmlinux`. The host objcopy reads any little-endian ELF32 as elf32-little.
  vmlinux = runCommand "vmlinux.bin" { } ''
    objcopy -I elf32-little -O binary ${kernel} "$out"
  '';

  kernelGzip = lib.makeUImage {
    name = "kernel-gzip.uImage"; kernel = vmlinux; compression = "gzip"; level = 9;
    inherit loadAddress sourceDateEpoch; imageName = "Debian 4kc-malta";
  };
  kernelLzma = lib.makeUImage {
    name = "kernel-lzma.uImage"; kernel = vmlinux; compression = "lzma";
    lzma = { lc = 1; lp = 2; pb = 2; dict = "1MiB"; };
    inherit loadAddress sourceDateEpoch; imageName = "Debian 4kc-malta";
  };

  # /usr/bin/{busybox,sh,hello}; / holds bin -> usr/bin and the mount points.
  programs = runCommand "router-programs" { } ''
    mkdir -p "$out/bin"
    cp ${busybox} "$out/bin/busybox" && chmod 755 "$out/bin/busybox"
    ln -s busybox "$out/bin/sh"
    printf '#!/bin/sh\necho "%s from $(busybox basename $0) on squashfs"\n' ${u.escapeShellArg marker} > "$out/bin/hello"
    chmod 755 "$out/bin/hello"
  '';
  skeleton = runCommand "router-skeleton" { } ''
    mkdir -p "$out/etc" "$out/dev" "$out/proc" "$out/sys" "$out/tmp"
    ln -s usr/bin "$out/bin"
    echo imgkit-router > "$out/etc/hostname"
  '';

  rootfs = if twoStepRootfs
    then runCommand "rootfs.squashfs" env ''
      # writable copies, as the one-step build makes: the same modes, and mtimes clamped to SOURCE_DATE_EPOCH
      mkdir programs skeleton && cp -r ${programs}/. programs/ && cp -r ${skeleton}/. skeleton/ && chmod -R u+w programs skeleton
      ${exe} squashfs pack programs "$out" -noappend ${sq}
      ${exe} squashfs pack skeleton "$out" -root-becomes usr ${sq}
    ''
    else runCommand "rootfs.squashfs" env ''
      mkdir root && cp -r ${skeleton}/. root/ && mkdir root/usr && cp -r ${programs}/. root/usr/ && chmod -R u+w root
      ${exe} squashfs pack root "$out" -noappend ${sq}
    '';

  mkFirmware = name: kernelImage: runCommand name env ''
    mkdir -p "$out"
    ${exe} firmware pack --kernel ${kernelImage} --rootfs ${rootfs} -o "$out/firmware.bin" \
      --erase-block ${eraseBlock} --flash-size ${flashSize} | tee "$out/budget.txt"
    ${exe} firmware info "$out/firmware.bin" > "$out/info.txt"
  '';
  firmware = mkFirmware "firmware" kernelGzip;
  firmwareVendor = mkFirmware "firmware-vendor" kernelLzma;

  # The initramfs that finds the rootfs in the firmware image: gen_init_cpio list, so /dev/console needs no root.
  initramfs = runCommand "initramfs.cpio.gz" env ''
    cat > init <<'INIT'
    #!/bin/sh
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    insmod /lib/modules/squashfs.ko
    set -- $(cat /proc/cmdline)
    for a; do case "$a" in rootfs_at=*) at=''${a#rootfs_at=};; rootfs_len=*) len=''${a#rootfs_len=};; esac; done
    insmod /lib/modules/phram.ko phram=rootfs,$at,$len
    mount -t squashfs -o ro /dev/mtdblock0 /rootfs && chroot /rootfs /bin/hello
    poweroff -f
    INIT
    sed -i 's/^    //' init
    {
      echo 'dir /dev 755 0 0'; echo 'nod /dev/console 600 0 0 c 5 1'
      for d in /bin /sbin /proc /sys /rootfs /lib /lib/modules; do echo "dir $d 755 0 0"; done
      echo 'file /bin/busybox ${busybox} 755 0 0'
      for l in sh mount insmod cat chroot poweroff; do echo "slink /bin/$l busybox 777 0 0"; done
      echo "file /init $PWD/init 755 0 0"
      for m in squashfs phram; do echo "file /lib/modules/$m.ko ${modules}/$m.ko 644 0 0"; done
    } > list
    ${exe} initramfs pack --spec list --compress gzip --mtime ${toString sourceDateEpoch} -o "$out"
  '';
}
