#!/bin/sh
# Fetches what the QEMU boot tests need into a cache outside the repository (CI starts on a fresh
# machine; the lead's .ci/run calls this). Idempotent: does nothing when the cache is complete.
#
#   test/e2e/fetch-guest.sh [CACHE]        (default: $IMGKIT_GUEST_CACHE or /var/cache/imgkit/guest)
#
# Host packages (Debian 12): qemu-system-arm u-boot-qemu, installed with apt-get when missing and
# we are root. Guest packages (armhf): the armmp kernel and busybox-static, taken from Debian's
# archive with `apt-get download` and unpacked with `dpkg-deb -x` (never installed). Result:
#   CACHE/armhf/vmlinuz          Debian armmp zImage
#   CACHE/armhf/busybox          static ARM busybox
#   CACHE/armhf/VERSION          the two package versions
set -eu

CACHE=${1:-${IMGKIT_GUEST_CACHE:-/var/cache/imgkit/guest}}
ARCH=armhf
OUT=$CACHE/$ARCH

if [ -s "$OUT/vmlinuz" ] && [ -x "$OUT/busybox" ] && command -v qemu-system-arm >/dev/null 2>&1 \
  && [ -f /usr/lib/u-boot/qemu_arm/u-boot.bin ]; then
  echo "fetch-guest: $OUT is complete ($(tr '\n' ' ' < "$OUT/VERSION"))"
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else "$@"; fi; }

# apt-get update can fail on one index while a mirror syncs (bookworm-security's armhf list, say):
# retry, then go on with the indexes that did arrive; a package that cannot be resolved fails later.
apt_update() {
  for i in 1 2 3; do
    if as_root apt-get update -q >/dev/null 2>&1; then return 0; fi
    echo "fetch-guest: apt-get update failed (attempt $i)" >&2
    sleep 3
  done
  echo "fetch-guest: going on with the package lists apt has" >&2
}

updated=
if ! command -v qemu-system-arm >/dev/null 2>&1 || [ ! -f /usr/lib/u-boot/qemu_arm/u-boot.bin ]; then
  apt_update; updated=1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-arm u-boot-qemu ipxe-qemu seabios >/dev/null
fi

if [ -s "$OUT/vmlinuz" ] && [ -x "$OUT/busybox" ]; then exit 0; fi

if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
  as_root dpkg --add-architecture "$ARCH"
  updated=
fi
[ -n "$updated" ] || apt_update

# The kernel package name carries an ABI number (linux-image-6.1.0-NN-armmp) that moves with
# Debian updates: resolve it from the metapackage.
KPKG=$(apt-cache depends "linux-image-armmp:$ARCH" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-armmp\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || { echo "fetch-guest: cannot resolve the armmp kernel package" >&2; exit 1; }

WORK=$(mktemp -d)
chmod 755 "$WORK" # apt-get download hands the file to the _apt user
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get download -q "$KPKG:$ARCH" "busybox-static:$ARCH" >/dev/null)
mkdir -p "$WORK/k" "$WORK/b"
dpkg-deb -x "$WORK"/linux-image-*.deb "$WORK/k"
dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/b"

mkdir -p "$OUT"
cp "$WORK"/k/boot/vmlinuz-* "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
cp "$WORK/b/bin/busybox" "$OUT/busybox.tmp" && chmod 755 "$OUT/busybox.tmp" && mv "$OUT/busybox.tmp" "$OUT/busybox"
for deb in "$WORK"/*.deb; do dpkg-deb -f "$deb" Package Version | sed 's/^[A-Za-z]*: //' | paste -sd' ' -; done > "$OUT/VERSION"
echo "fetch-guest: $OUT ready ($(tr '\n' ' ' < "$OUT/VERSION"))"
