#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing:
# the riscv64 cross toolchain and its static C library (test programs), qemu-user (the reference), and
# for the guest-assets tests cpio, gpg (signing a test archive) and gpgv, and
# qemu-utils (qemu-img, qemu-io) for the qcow2 tests, libslirp0 for the
# user-mode networking tests, and iproute2, curl and ping for the bridged
# (TAP) networking tests, mmdebstrap and qemu-user-static for the full Debian image, openssl for the daemon's TLS certificate, and chromium for the web
# console's browser tests (driven by playwright-core at /usr/bin/chromium).
set -euo pipefail
need=()
command -v riscv64-linux-gnu-gcc >/dev/null || need+=(gcc-riscv64-linux-gnu)
command -v riscv64-linux-gnu-as >/dev/null || need+=(binutils-riscv64-linux-gnu)
[ -e /usr/riscv64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-riscv64-cross)
command -v qemu-riscv64 >/dev/null || need+=(qemu-user)
[ -x /usr/bin/qemu-riscv64-static ] || need+=(qemu-user-static)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v dtc >/dev/null || need+=(device-tree-compiler)
command -v qemu-system-riscv64 >/dev/null || need+=(qemu-system-misc)
command -v cpio >/dev/null || need+=(cpio)
command -v gpg >/dev/null || need+=(gpg)
command -v gpgv >/dev/null || need+=(gpgv)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mke2fs >/dev/null || [ -x /usr/sbin/mke2fs ] || [ -x /sbin/mke2fs ] || need+=(e2fsprogs)
[ -e /usr/lib/$(uname -m)-linux-gnu/libslirp.so.0 ] || ldconfig -p 2>/dev/null | grep -q 'libslirp\.so\.0 ' || need+=(libslirp0)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v ping >/dev/null || need+=(iputils-ping)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing Debian packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
