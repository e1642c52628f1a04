#!/bin/sh
# Fetches the router pipeline's guest into a cache outside the repository. Idempotent.
#
#   test/pipelines/fetch-router.sh [CACHE]     (default: $IMGKIT_GUEST_CACHE or /var/cache/imgkit/guest)
#
# Host packages (Debian 12): qemu-system-mips u-boot-qemu binutils (objcopy). Guest packages (mipsel,
# `apt-get download` + `dpkg-deb -x`, never installed): the 4kc-malta kernel and busybox-static. Result:
#   CACHE/router-mipsel/vmlinuz       Debian 4kc-malta kernel (ELF, one PT_LOAD)
#   CACHE/router-mipsel/modules/      squashfs.ko phram.ko loop.ko from the same package (no dependencies)
#   CACHE/router-mipsel/busybox       static mipsel busybox
#   CACHE/router-mipsel/VERSION       the two package versions
set -eu
CACHE=${1:-${IMGKIT_GUEST_CACHE:-/var/cache/imgkit/guest}}
ARCH=mipsel
OUT=$CACHE/router-mipsel
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else "$@"; fi; }
apt_update() {
  for i in 1 2 3; do
    if as_root apt-get update -q >/dev/null 2>&1; then return 0; fi
    echo "fetch-router: apt-get update failed (attempt $i)" >&2; sleep 3
  done
}
if ! command -v qemu-system-mipsel >/dev/null 2>&1 || [ ! -f /usr/lib/u-boot/maltael/u-boot.bin ] || ! command -v objcopy >/dev/null 2>&1; then
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-mips u-boot-qemu ipxe-qemu seabios binutils >/dev/null
fi
if [ -s "$OUT/vmlinuz" ] && [ -x "$OUT/busybox" ] && [ -s "$OUT/modules/phram.ko" ]; then echo "fetch-router: $OUT is complete"; exit 0; fi
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then as_root dpkg --add-architecture "$ARCH"; fi
apt_update
KPKG=$(apt-cache depends "linux-image-4kc-malta:$ARCH" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-4kc-malta\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || { echo "fetch-router: cannot resolve the 4kc-malta kernel package" >&2; exit 1; }
WORK=$(mktemp -d); chmod 755 "$WORK"; trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get download -q "$KPKG:$ARCH" "busybox-static:$ARCH" >/dev/null)
mkdir -p "$WORK/k" "$WORK/b"
dpkg-deb -x "$WORK"/linux-image-*.deb "$WORK/k"
dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/b"
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/modules"
cp "$WORK"/k/boot/vmlinuz-* "$OUT.tmp/vmlinuz"
for m in fs/squashfs/squashfs.ko drivers/mtd/devices/phram.ko drivers/block/loop.ko; do cp "$WORK"/k/lib/modules/*/kernel/$m "$OUT.tmp/modules/"; done
cp "$WORK/b/bin/busybox" "$OUT.tmp/busybox" && chmod 755 "$OUT.tmp/busybox"
for deb in "$WORK"/*.deb; do dpkg-deb -f "$deb" Package Version | sed 's/^[A-Za-z]*: //' | paste -sd' ' -; done > "$OUT.tmp/VERSION"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "fetch-router: $OUT ready ($(tr '\n' ' ' < "$OUT/VERSION"))"
