#!/bin/sh
# Fetches the MIPS Malta guest for test/uimage/boot.test.ts into a cache outside the repository
# (same layout as test/e2e/fetch-guest.sh, which does armhf). Idempotent.
#
#   test/uimage/fetch-malta.sh [CACHE]     (default: $IMGKIT_GUEST_CACHE or /var/cache/imgkit/guest)
#
# Host packages (Debian 12): qemu-system-mips u-boot-qemu. Guest packages (mipsel, downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x`, never installed): the 4kc-malta kernel and
# busybox-static. Result:
#   CACHE/mipsel/vmlinuz     Debian 4kc-malta kernel (an ELF, self-decompressing)
#   CACHE/mipsel/busybox     static mipsel busybox
#   CACHE/mipsel/VERSION     the two package versions
set -eu
CACHE=${1:-${IMGKIT_GUEST_CACHE:-/var/cache/imgkit/guest}}
ARCH=mipsel
OUT=$CACHE/$ARCH
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else "$@"; fi; }
apt_update() {
  for i in 1 2 3; do
    if as_root apt-get update -q >/dev/null 2>&1; then return 0; fi
    echo "fetch-malta: apt-get update failed (attempt $i)" >&2; sleep 3
  done
}
if ! command -v qemu-system-mipsel >/dev/null 2>&1 || [ ! -f /usr/lib/u-boot/maltael/u-boot.bin ]; then
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-mips u-boot-qemu ipxe-qemu seabios >/dev/null
fi
if [ -s "$OUT/vmlinuz" ] && [ -x "$OUT/busybox" ]; then echo "fetch-malta: $OUT is complete"; exit 0; fi
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then as_root dpkg --add-architecture "$ARCH"; fi
apt_update
KPKG=$(apt-cache depends "linux-image-4kc-malta:$ARCH" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-4kc-malta\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || { echo "fetch-malta: cannot resolve the 4kc-malta kernel package" >&2; exit 1; }
WORK=$(mktemp -d); chmod 755 "$WORK"; trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get download -q "$KPKG:$ARCH" "busybox-static:$ARCH" >/dev/null)
mkdir -p "$WORK/k" "$WORK/b"
dpkg-deb -x "$WORK"/linux-image-*.deb "$WORK/k"
dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/b"
mkdir -p "$OUT"
cp "$WORK"/k/boot/vmlinuz-* "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
cp "$WORK/b/bin/busybox" "$OUT/busybox.tmp" && chmod 755 "$OUT/busybox.tmp" && mv "$OUT/busybox.tmp" "$OUT/busybox"
for deb in "$WORK"/*.deb; do dpkg-deb -f "$deb" Package Version | sed 's/^[A-Za-z]*: //' | paste -sd' ' -; done > "$OUT/VERSION"
echo "fetch-malta: $OUT ready ($(tr '\n' ' ' < "$OUT/VERSION"))"
