#!/bin/sh
# Installs the Debian packages that building and testing snaprotate need.
# Idempotent and quick when everything is there already.
set -eu

PKGS="build-essential pkg-config libbtrfsutil-dev libmount-dev libjson-c-dev libinih-dev
libcmocka-dev liburing-dev liblvm2-dev lvm2 linux-libc-dev btrfs-progs util-linux e2fsprogs python3 python3-pytest strace valgrind openssh-server openssh-client
postgresql-15 postgresql-client-15 mariadb-server mariadb-client
dpkg-dev pacman-package-manager makepkg libarchive-tools zstd dnf createrepo-c rpm
scdoc debhelper fakeroot lintian man-db bash-completion python3-croniter
initramfs-tools-core busybox-static clang libclang-rt-14-dev clang-tidy cppcheck
shellcheck"

# promtool validates `check --prometheus`. Debian ships it only inside the
# prometheus package, whose installation would start a Prometheus server on
# this machine: the binary is taken out of the package instead.
fetch_promtool() {
	# Beside the VM harness's kernels: kept across `make clean`, outside the tree.
	tool=/var/tmp/snaprotate-tools/promtool
	command -v promtool >/dev/null 2>&1 || [ -x "$tool" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: no promtool (run as root to fetch it)" >&2
		return 1
	fi
	tmp=$(mktemp -d)
	if ! (cd "$tmp" && apt-get download -q prometheus >/dev/null 2>&1); then
		apt-get update -q
		(cd "$tmp" && apt-get download -q prometheus)
	fi
	mkdir -p "$(dirname "$tool")"
	dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -O ./usr/bin/promtool >"$tool.new"
	chmod 755 "$tool.new"
	mv "$tool.new" "$tool"
	rm -rf "$tmp"
}

# valgrind for `make check-valgrind`: bookworm's 3.19 answers openat2 with ENOSYS,
# and snaprotate opens every path beneath a directory with it. Debian 13's (3.24)
# runs here as it is: unpacked beside promtool, never installed; apt reads a
# private source list and state directory, so the system's apt is not touched.
fetch_valgrind() {
	dest=/var/tmp/snaprotate-tools/valgrind
	[ -x "$dest/usr/bin/valgrind.bin" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: no valgrind 3.24 (run as root to fetch it)" >&2
		return 1
	fi
	w=$(mktemp -d)
	chmod 755 "$w"
	mkdir -p "$w/lists/partial" "$w/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
		"http://deb.debian.org/debian trixie main" >"$w/sources.list"
	set -- -o "Dir::Etc::SourceList=$w/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$w/lists" -o "Dir::Cache=$w/cache"
	apt-get -qq "$@" update
	(cd "$w" && apt-get -qq "$@" download valgrind)
	rm -rf "$dest.new"
	dpkg-deb -x "$w"/valgrind_*.deb "$dest.new"
	rm -rf "$dest" "$w"
	mv "$dest.new" "$dest"
}

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	fetch_promtool
	fetch_valgrind
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
fetch_promtool
fetch_valgrind
