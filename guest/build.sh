#!/usr/bin/env bash
# Build the tshv default guest from Debian packages: a small RV64 Linux kernel, a static
# busybox initramfs and (optionally) an ext4 root disk with the same userland, raw
# (gzipped) and as qcow2.
#
#   guest/build.sh [kernel|busybox|initramfs|rootfs|all]...     (default: all)
#
# Scratch work goes to guest/.build/ (gitignored); results to guest/images/. See
# guest/README.md for what is inside, the packages it needs and what is reproducible.
set -euo pipefail

GUEST=$(cd "$(dirname "$0")" && pwd)
BUILD=$GUEST/.build
IMAGES=$GUEST/images
JOBS=${JOBS:-$(nproc)}

export ARCH=riscv
export CROSS_COMPILE=riscv64-linux-gnu-
export LC_ALL=C TZ=UTC
# Every timestamp that reaches an artifact: 2025-01-01 00:00:00 UTC.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}
export KBUILD_BUILD_TIMESTAMP
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$SOURCE_DATE_EPOCH")
export KBUILD_BUILD_USER=tshv KBUILD_BUILD_HOST=tshv KBUILD_BUILD_VERSION=1

KERNEL_TARBALL=/usr/src/linux-source-6.1.tar.xz
KSRC=$BUILD/linux-source-6.1
KOUT=$BUILD/linux-build
BBSRC=$BUILD/busybox
ROOT=$BUILD/root                  # the userland tree shared by initramfs and rootfs
ROOTFS_MIB=32

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

need() {
	local missing=()
	command -v riscv64-linux-gnu-gcc >/dev/null || missing+=(gcc-riscv64-linux-gnu)
	[ -r "$KERNEL_TARBALL" ] || missing+=(linux-source-6.1)
	for tool in make flex bison bc cc xz gzip cpio; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
	[ -e /usr/include/libelf.h ] || missing+=(libelf-dev)
	[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
	[ ${#missing[@]} -eq 0 ] ||
		die "missing: ${missing[*]} (apt-get install gcc-riscv64-linux-gnu linux-source-6.1 make flex bison bc build-essential xz-utils cpio dpkg-dev libelf-dev libssl-dev)"
}

# Every line of a config fragment must hold in the resolved config: a dependency that
# silently drops an option would otherwise ship a kernel without it.
check_fragment() { # fragment resolved-config
	local bad=0 line key want got
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) key=${line%%=*} want=${line#*=} ;;
		"# CONFIG_"*" is not set") key=${line#\# } key=${key%% *} want=n ;;
		*) continue ;;
		esac
		got=$(grep -E "^$key=" "$2" | tail -n1 | cut -d= -f2-) || true
		[ -n "$got" ] || got=n
		if [ "$got" != "$want" ]; then
			echo "  $key: fragment wants $want, resolved config has $got" >&2
			bad=1
		fi
	done <"$1"
	[ $bad -eq 0 ] || die "$(basename "$1") did not survive the config merge (above)"
}

build_kernel() {
	log "kernel: linux-source-6.1 $(dpkg-query -W -f='${Version}' linux-source-6.1)"
	if [ ! -f "$KSRC/.tshv-extracted" ] || [ "$KERNEL_TARBALL" -nt "$KSRC/.tshv-extracted" ]; then
		rm -rf "$KSRC"
		mkdir -p "$BUILD"
		tar -C "$BUILD" -xJf "$KERNEL_TARBALL"
		touch "$KSRC/.tshv-extracted"
	fi
	mkdir -p "$KOUT"
	make -s -C "$KSRC" O="$KOUT" tinyconfig >/dev/null
	(cd "$KOUT" && "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KOUT" .config \
		"$GUEST/kernel/tshv.config" >/dev/null)
	# "override: X changes choice state" is the fragment doing its job; check_fragment judges.
	make -s -C "$KSRC" O="$KOUT" olddefconfig 2>&1 | { grep -v 'changes choice state$' || :; } >&2
	check_fragment "$GUEST/kernel/tshv.config" "$KOUT/.config"
	time make -s -C "$KSRC" O="$KOUT" -j"$JOBS" Image
	mkdir -p "$IMAGES"
	gzip -n -9 -c "$KOUT/arch/riscv/boot/Image" >"$IMAGES/Image.gz"
	# The resolved configuration, for review and diffing (also in the Image: /proc/config.gz).
	grep -v '^# Linux/riscv .* Kernel Configuration$' "$KOUT/.config" >"$IMAGES/Image.config"
}

fetch_busybox() {
	[ -f "$BBSRC/.tshv-extracted" ] && return
	rm -rf "$BBSRC" "$BUILD/busybox-src"
	mkdir -p "$BUILD/busybox-src"
	(cd "$BUILD/busybox-src" && apt-get source busybox) ||
		die "apt-get source busybox failed: add a deb-src line for bookworm main (see guest/README.md) and apt-get update"
	mv "$BUILD"/busybox-src/busybox-*/ "$BBSRC"
	touch "$BBSRC/.tshv-extracted"
}

build_busybox() {
	fetch_busybox
	log "busybox: $(cd "$BUILD/busybox-src" && ls busybox_*.dsc)"
	make -s -C "$BBSRC" defconfig >/dev/null
	# busybox's kconfig has no merge script: drop each fragment key, append the fragment.
	local keys
	keys=$(sed -nE 's/^(CONFIG_[A-Z0-9_]+)=.*/\1/p; s/^# (CONFIG_[A-Z0-9_]+) is not set/\1/p' \
		"$GUEST/busybox/tshv-busybox.config" | paste -sd'|')
	grep -vE "^($keys)=|^# ($keys) is not set" "$BBSRC/.config" >"$BBSRC/.config.new"
	cat "$GUEST/busybox/tshv-busybox.config" >>"$BBSRC/.config.new"
	mv "$BBSRC/.config.new" "$BBSRC/.config"
	{ yes '' || :; } | make -s -C "$BBSRC" oldconfig >/dev/null
	check_fragment "$GUEST/busybox/tshv-busybox.config" "$BBSRC/.config"
	time make -s -C "$BBSRC" -j"$JOBS" busybox 2>&1 | grep -v -e 'warning:' -e '^ ' -e '^In ' -e 'note:' || true
	[ -x "$BBSRC/busybox" ] || die "busybox did not build"
}

# The userland tree: busybox with its applet links, /init and a few files in /etc.
stage_root() {
	[ -x "$BBSRC/busybox" ] || build_busybox
	log "staging the userland in $ROOT"
	rm -rf "$ROOT"
	make -s -C "$BBSRC" CONFIG_PREFIX="$ROOT" install >/dev/null
	rm -f "$ROOT/linuxrc"
	mkdir -p "$ROOT"/{dev,proc,sys,tmp,root,mnt,etc,usr/share/udhcpc}
	chmod 1777 "$ROOT/tmp"
	chmod 700 "$ROOT/root"
	install -m 755 "$GUEST/initramfs/init" "$ROOT/init"
	cp -a "$GUEST/initramfs/etc/." "$ROOT/etc/"
	# poweroff/reboot/halt act at once (see initramfs/init): scripts replace the applet links.
	for cmd in poweroff reboot halt; do rm -f "$ROOT/sbin/$cmd"; install -m 755 "$GUEST/initramfs/sbin/$cmd" "$ROOT/sbin/$cmd"; done
	ln -s /proc/mounts "$ROOT/etc/mtab"
	install -m 755 "$BBSRC/examples/udhcp/simple.script" "$ROOT/usr/share/udhcpc/default.script"
	find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

gen_init_cpio() {
	local tool=$BUILD/gen_init_cpio
	[ -x "$tool" ] && [ "$tool" -nt "$KSRC/usr/gen_init_cpio.c" ] && { echo "$tool"; return; }
	[ -f "$KSRC/usr/gen_init_cpio.c" ] || die "run '$0 kernel' first: gen_init_cpio comes from the kernel source"
	cc -O2 -o "$tool" "$KSRC/usr/gen_init_cpio.c"
	echo "$tool"
}

# A newc archive listed in sorted order, owned by root, every mtime SOURCE_DATE_EPOCH,
# written by the kernel's own gen_init_cpio so the builder needs neither root nor fakeroot.
build_initramfs() {
	stage_root
	local tool list=$BUILD/initramfs.list
	tool=$(gen_init_cpio)
	log "initramfs"
	{
		echo "nod /dev/console 0600 0 0 c 5 1"
		(cd "$ROOT" && find . -mindepth 1 | sed 's|^\./||' | sort) | while IFS= read -r p; do
			local f=$ROOT/$p mode
			mode=$(stat -c %a "$f")
			if [ -L "$f" ]; then echo "slink /$p $(readlink "$f") 777 0 0"
			elif [ -d "$f" ]; then echo "dir /$p $mode 0 0"
			elif [ -f "$f" ]; then echo "file /$p $f $mode 0 0"
			else die "unexpected file type: $p"
			fi
		done
	} >"$list"
	mkdir -p "$IMAGES"
	"$tool" -t "$SOURCE_DATE_EPOCH" "$list" | gzip -n -9 >"$IMAGES/initramfs.cpio.gz"
}

# The same userland on a 32 MiB ext4 disk, for root=/dev/vda. The kernel mounts devtmpfs on
# /dev itself for a disk root, and runs /sbin/init, which here is the same /init script.
build_rootfs() {
	stage_root
	log "rootfs: ${ROOTFS_MIB} MiB ext4"
	local img=$BUILD/rootfs.ext4
	ln -sf ../init "$ROOT/sbin/init"
	touch -h -d "@$SOURCE_DATE_EPOCH" "$ROOT/sbin/init" "$ROOT/sbin"
	rm -f "$img"
	# Fixed UUID, hash seed and creation time so the image is the same on every build.
	local msg
	msg=$(E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -F -q -t ext4 -d "$ROOT" -L tshv-root \
		-U 7c5e1d2a-0b6f-4c1e-9a43-7473687630ff \
		-E root_owner=0:0,hash_seed=7c5e1d2a-0b6f-4c1e-9a43-7473687630ff,lazy_itable_init=0,lazy_journal_init=0 \
		-I 256 -b 4096 "$img" "${ROOTFS_MIB}M" 2>&1) || die "mke2fs: $msg"
	# mke2fs -d copies each inode's ctime from the staging tree, which no one can set: pin it.
	(cd "$ROOT" && find . | sed 's|^\.|sif /|; s|//|/|; s|$| ctime @'"$SOURCE_DATE_EPOCH"'|') >"$BUILD/rootfs.debugfs"
	msg=$(E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$BUILD/rootfs.debugfs" "$img" 2>&1) ||
		die "debugfs: $msg"
	msg=$(E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH e2fsck -fn "$img" 2>&1) || die "e2fsck: $msg"
	gzip -n -9 -c "$img" >"$IMAGES/rootfs.ext4.gz"
	rootfs_qcow2 "$img"
}

# The same disk as qcow2 (v3, compressed clusters: small to commit), to be used as the
# read-only backing file of a per-VM overlay. qemu-img writes no timestamps, and without -W
# it writes clusters in order, so the same ext4 image gives the same bytes.
rootfs_qcow2() { # ext4-image
	command -v qemu-img >/dev/null || die "missing: qemu-img (apt-get install qemu-utils)"
	log "rootfs: qcow2"
	local out=$IMAGES/rootfs.qcow2 msg
	rm -f "$out"
	msg=$(qemu-img convert -f raw -O qcow2 -c -o compat=1.1 "$1" "$out" 2>&1) || die "qemu-img convert: $msg"
	msg=$(qemu-img check -q "$out" 2>&1) || die "qemu-img check $out: $msg"
}

write_buildinfo() {
	(
		cd "$IMAGES"
		echo "# guest/build.sh — what built the images in this directory"
		echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
		dpkg-query -W -f='${Package} ${Version}\n' linux-source-6.1 gcc-riscv64-linux-gnu \
			binutils-riscv64-linux-gnu libc6-dev-riscv64-cross e2fsprogs
		[ -d "$BUILD/busybox-src" ] && (cd "$BUILD/busybox-src" && ls busybox_*.dsc | sed 's/^busybox_\(.*\)\.dsc$/busybox (source) \1/')
		riscv64-linux-gnu-gcc --version | head -n1
		echo
		sha256sum ./*.gz
	) >"$IMAGES/BUILDINFO"
}

need
[ $# -gt 0 ] || set -- all
for step in "$@"; do
	case $step in
	kernel) build_kernel ;;
	busybox) build_busybox ;;
	initramfs) build_initramfs ;;
	rootfs) build_rootfs ;;
	all) build_kernel; build_busybox; build_initramfs; build_rootfs ;;
	*) die "unknown step '$step' (kernel, busybox, initramfs, rootfs, all)" ;;
	esac
done
write_buildinfo
ls -l "$IMAGES"
