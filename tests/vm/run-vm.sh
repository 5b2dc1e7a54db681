#!/bin/bash
# run-vm.sh: run a command inside a throwaway QEMU guest that boots Debian's own
# kernel (which has device-mapper), for the LVM tests this host's kernel cannot run.
#
#   tests/vm/run-vm.sh [OPTIONS] -- CMD [ARG...]
#
# The kernel package is downloaded (never installed) into a cache, a small initramfs
# is built on every run, the guest runs CMD under bash (cwd /mnt/share with --share),
# streams its output here and this script exits with CMD's status.
# Exit codes: CMD's own status; 124 hard timeout; 125 no exit sentinel (panic, qemu
# failure: the console tail is printed); 2 usage; 3 host setup failed.
# See tests/vm/README.md.
set -euo pipefail

prog=run-vm
die() { echo "$prog: $*" >&2; exit 3; }
usage_err() { echo "$prog: $*" >&2; echo "usage: $0 [OPTIONS] -- CMD [ARG...]  (--help)" >&2; exit 2; }
note() { echo "$prog: $*" >&2; }
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

usage() {
	cat <<'EOF'
usage: tests/vm/run-vm.sh [OPTIONS] -- CMD [ARG...]

Boots Debian's kernel under QEMU with a fresh initramfs and runs CMD (under bash)
in the guest. CMD's stdout/stderr stream here; the exit status is CMD's.

  --kernel V        6.1 (default: what linux-image-amd64 depends on), 6.12
                    (linux-image-6.12-amd64), or a linux-image-* package name
  --share DIR       9p-share host DIR read-write at /mnt/share; CMD runs there
  --bin PATH        copy PATH to /usr/local/bin/ with its ldd libraries (repeatable)
  --copy SRC:DEST   copy a host file or directory to DEST in the guest (repeatable)
  --modules LIST    extra kernel modules, comma-separated (e.g. btrfs,loop,xfs);
                    their dependencies are added from modules.dep
  --disks N         0, 1 or 2 blank sparse virtio disks: /dev/vda, /dev/vdb (default 1)
  --disk-size SIZE  size of each disk, as for truncate -s (default 2G)
  --timeout SECS    hard limit on the qemu run (default 600); exit 124 when hit
  --mem MB          guest memory (default 1024)
  --smp N           guest vCPUs (default 2)
  --env NAME=VALUE  export NAME=VALUE to CMD (repeatable)
  --accel MODE      auto (default: KVM only if cpuinfo has vmx/svm and /dev/kvm
                    opens), tcg or kvm
  -h, --help        this text

Environment: SNAPROTATE_VM_CACHE (default /var/tmp/snaprotate-vm) holds kernels.
EOF
}

# ---------------------------------------------------------------- options
kernel_spec=6.1
share=""
bins=()
copies=()
extra_modules=""
ndisks=1
disk_size=2G
timeout_s=600
mem=1024
smp=2
envs=()
accel=auto
cache=${SNAPROTATE_VM_CACHE:-/var/tmp/snaprotate-vm}

need_arg() { [[ $# -ge 2 ]] || usage_err "$1 needs an argument"; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--kernel) need_arg "$@"; kernel_spec=$2; shift 2 ;;
	--share) need_arg "$@"; share=$2; shift 2 ;;
	--bin) need_arg "$@"; bins+=("$2"); shift 2 ;;
	--copy) need_arg "$@"; copies+=("$2"); shift 2 ;;
	--modules) need_arg "$@"; extra_modules="$extra_modules,$2"; shift 2 ;;
	--disks) need_arg "$@"; ndisks=$2; shift 2 ;;
	--disk-size) need_arg "$@"; disk_size=$2; shift 2 ;;
	--timeout) need_arg "$@"; timeout_s=$2; shift 2 ;;
	--mem) need_arg "$@"; mem=$2; shift 2 ;;
	--smp) need_arg "$@"; smp=$2; shift 2 ;;
	--env) need_arg "$@"; envs+=("$2"); shift 2 ;;
	--accel) need_arg "$@"; accel=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage_err "unknown option: $1" ;;
	esac
done
[[ $# -gt 0 ]] || usage_err "no command given after --"
[[ $ndisks =~ ^[012]$ ]] || usage_err "--disks must be 0, 1 or 2"
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || usage_err "--timeout must be a positive integer"
[[ $mem =~ ^[0-9]+$ ]] || usage_err "--mem must be a number of MiB"
[[ $smp =~ ^[0-9]+$ ]] || usage_err "--smp must be a number"
[[ $accel =~ ^(auto|tcg|kvm)$ ]] || usage_err "--accel must be auto, tcg or kvm"
if [[ -n $share ]]; then
	[[ -d $share ]] || usage_err "--share $share: not a directory"
	share=$(realpath "$share")
fi
for b in "${bins[@]}"; do [[ -f $b ]] || usage_err "--bin $b: no such file"; done
for c in "${copies[@]}"; do
	[[ $c == *:/* ]] || usage_err "--copy $c: expected SRC:/DEST"
	[[ -e ${c%%:*} ]] || usage_err "--copy $c: no such source"
done
for e in "${envs[@]}"; do [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_err "--env $e: expected NAME=VALUE"; done

t_start=$(now)

# ---------------------------------------------------------------- host packages
host_pkgs=(qemu-system-x86 busybox-static cpio kmod lvm2 thin-provisioning-tools liblvm2-dev
	e2fsprogs btrfs-progs util-linux dash bash xz-utils zstd gzip coreutils)
[[ ,$extra_modules, == *,xfs,* ]] && host_pkgs+=(xfsprogs)
apt_updated=0
apt_update() {
	if [[ $apt_updated -eq 0 ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
}
declare -A pkg_ok=()
while read -r p st; do
	if [[ $st == installed ]]; then pkg_ok[${p%%:*}]=1; fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${host_pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${host_pkgs[@]}"; do [[ -n ${pkg_ok[$p]:-} ]] || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
	[[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (run as root to install them)"
	note "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install failed"
fi
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# ---------------------------------------------------------------- kernel
case $kernel_spec in
6.1 | default) kmeta=linux-image-amd64; kseries=6.1 ;;
linux-image-*) kmeta=$kernel_spec; kseries="" ;;
*) kmeta=linux-image-$kernel_spec-amd64; kseries=$kernel_spec ;;
esac

# One apt-cache call (about 1 s): a meta package names "Depends: linux-image-X (= VER)";
# a real kernel package has no such dependency and its own Version. The answer is
# kept until the package lists change (apt-get update).
resolve_kernel() {
	local memo=$cache/.resolve-$kmeta out
	kpkg="" kver_pkg=""
	if [[ -f $memo && $memo -nt /var/lib/apt/lists ]]; then
		read -r kpkg kver_pkg <"$memo" || true
		[[ -n $kver_pkg ]] && return 0
	fi
	out=$(apt-cache show --no-all-versions "$kmeta" 2>/dev/null || true)
	if [[ $out =~ (^|$'\n')Depends:\ ([^$'\n']*,\ )?(linux-image-[^ ,]+)\ \(=\ ([^\)]+)\) ]]; then
		kpkg=${BASH_REMATCH[3]} kver_pkg=${BASH_REMATCH[4]}
	elif [[ $out =~ (^|$'\n')Version:\ ([^$'\n']+) ]]; then
		kpkg=$kmeta kver_pkg=${BASH_REMATCH[2]}
	else
		return 1
	fi
	echo "$kpkg $kver_pkg" >"$memo" || true
}

# Only the module trees a storage test VM can use are kept (the full 6.1 tree is
# 400 MB, mostly network, GPU, media and sound drivers). Bump cache_layout when
# this list or the layout changes: older entries are then rebuilt.
keep_dirs=(fs crypto lib block arch mm virt net/9p drivers/md drivers/block drivers/virtio
	drivers/char drivers/scsi drivers/nvme drivers/nvdimm drivers/dax)
cache_layout=2

# The bzImage decompresses itself (xz on 6.1) before the kernel starts: 4-8 s under
# TCG on every boot. The uncompressed ELF, booted through its PVH entry point,
# skips that. Without CONFIG_PVH or on any surprise, the bzImage is used.
extract_vmlinux() { # BZIMAGE CONFIG OUT
	local magic off unpack
	grep -qx 'CONFIG_PVH=y' "$2" 2>/dev/null || return 0
	for magic in $'\xfd''7zXZ' $'\x28\xb5\x2f\xfd' $'\x1f\x8b\x08'; do
		case $magic in
		*7zXZ) unpack=(xz -dc --single-stream) ;;
		*$'\xfd') unpack=(zstd -dcq) ;;
		*) unpack=(gzip -dc) ;;
		esac
		while read -r off; do
			tail -c +"$((off + 1))" "$1" | "${unpack[@]}" >"$3" 2>/dev/null || true
			if [[ $(head -c 4 "$3") == $'\x7f'ELF ]]; then return 0; fi
		done < <(LC_ALL=C grep -obUa "$magic" "$1" | head -n 3 | cut -d: -f1 || true)
	done
	rm -f "$3"
}

populate_cache() {
	local tmpd deb kv kmods d old
	rm -rf "$cache"/.new.* # left by an interrupted run; we hold the lock
	tmpd=$(mktemp -d "$cache/.new.XXXXXX")
	note "downloading $kpkg $kver_pkg into $cache"
	if ! (cd "$tmpd" && apt-get download -q -o APT::Sandbox::User=root "$kpkg=$kver_pkg" >&2); then
		rm -rf "$tmpd"
		return 1
	fi
	deb=$(find "$tmpd" -maxdepth 1 -name '*.deb' -print -quit)
	dpkg-deb -x "$deb" "$tmpd/root" || { rm -rf "$tmpd"; die "dpkg-deb -x failed"; }
	rm -f "$deb"
	rm -rf "$tmpd/root/usr/share" "$tmpd/root/etc"
	# Debian 12 ships lib/modules; a merged-/usr package would ship usr/lib/modules.
	if [[ ! -d $tmpd/root/lib/modules && -d $tmpd/root/usr/lib/modules ]]; then
		ln -s usr/lib "$tmpd/root/lib"
	fi
	kv=$(ls "$tmpd/root/lib/modules")
	[[ -n $kv && -f $tmpd/root/boot/vmlinuz-$kv ]] || { rm -rf "$tmpd"; die "unexpected layout in $kpkg"; }
	kmods=$tmpd/root/lib/modules/$kv
	mkdir "$tmpd/keep"
	for d in "${keep_dirs[@]}"; do
		[[ -e $kmods/kernel/$d ]] || continue
		mkdir -p "$tmpd/keep/${d%/*}"
		mv "$kmods/kernel/$d" "$tmpd/keep/$d"
	done
	rm -rf "$kmods/kernel"
	mv "$tmpd/keep" "$kmods/kernel"
	# busybox insmod loads plain .ko only: decompress (6.12 ships .ko.xz).
	find "$kmods" -name '*.ko.xz' -print0 | xargs -0 -r -P 2 -n 64 xz -d ||
		{ rm -rf "$tmpd"; die "decompressing modules failed"; }
	find "$kmods" -name '*.ko.zst' -print0 | xargs -0 -r -n 64 zstd -q -d --rm ||
		{ rm -rf "$tmpd"; die "decompressing modules failed"; }
	depmod -b "$tmpd/root" "$kv" || { rm -rf "$tmpd"; die "depmod failed"; }
	extract_vmlinux "$tmpd/root/boot/vmlinuz-$kv" "$tmpd/root/boot/config-$kv" "$tmpd/vmlinux"
	echo "$kv" >"$tmpd/kver"
	echo "$kmeta" >"$tmpd/meta"
	echo "$cache_layout" >"$tmpd/.complete"
	rm -rf "$kdir"
	mv "$tmpd" "$kdir"
	# Older versions fetched for the same --kernel are superseded.
	for old in "$cache"/linux-image-*; do
		[[ $old != "$kdir" && -f $old/meta && $(<"$old/meta") == "$kmeta" ]] || continue
		note "removing superseded ${old##*/}"
		rm -rf "$old"
	done
}

cache_ok() { [[ -f $kdir/.complete && $(<"$kdir/.complete") == "$cache_layout" ]]; }
mkdir -p "$cache"
if ! resolve_kernel && [[ $(id -u) -eq 0 && $apt_updated -eq 0 ]]; then
	# No or old package lists: update them once (a failure here is not fatal).
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
	apt_updated=1
	resolve_kernel || true
fi
if [[ -n $kver_pkg ]]; then
	if [[ -n $kseries && $kpkg != linux-image-"$kseries"[.-]* ]]; then
		note "warning: --kernel $kernel_spec resolved to $kpkg"
	fi
	kdir=$cache/${kpkg}_${kver_pkg//:/%3a}
else
	# Offline: fall back to a complete cache entry fetched for the same --kernel.
	kdir=""
	for d in "$cache"/linux-image-*; do
		[[ -f $d/meta && $(<"$d/meta") == "$kmeta" ]] || continue
		old_kdir=$kdir kdir=$d
		cache_ok && break
		kdir=$old_kdir
	done
	[[ -n $kdir ]] || die "cannot resolve $kmeta with apt-cache and no cached kernel for it"
	kpkg=${kdir##*/} kpkg=${kpkg%%_*}
	note "cannot resolve $kmeta; using the cached ${kdir##*/}"
fi
if ! cache_ok; then
	t0=$(now)
	exec {lockfd}>"$cache/.lock"
	flock "$lockfd"
	if ! cache_ok && ! populate_cache; then
		# Old package lists name a version the mirror dropped: update, resolve again.
		[[ $apt_updated -eq 0 ]] || die "apt-get download $kpkg=$kver_pkg failed"
		note "apt-get download failed; updating the package lists"
		rm -f "$cache/.resolve-$kmeta"
		apt_update
		resolve_kernel || die "cannot resolve $kmeta with apt-cache"
		kdir=$cache/${kpkg}_${kver_pkg//:/%3a}
		cache_ok || populate_cache || die "apt-get download $kpkg=$kver_pkg failed"
	fi
	flock -u "$lockfd"
	exec {lockfd}>&-
	note "kernel cached in $(elapsed "$t0" "$(now)") s"
fi
kver=$(cat "$kdir/kver")
kroot=$kdir/root
kimage=$kroot/boot/vmlinuz-$kver
[[ -f $kdir/vmlinux ]] && kimage=$kdir/vmlinux
moddir=$kroot/lib/modules/$kver

# ---------------------------------------------------------------- temp dir, cleanup
tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-vm.XXXXXX")
tpid="" spid=""
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local qpid=""
	[[ -f $tmp/qemu.pid ]] && qpid=$(cat "$tmp/qemu.pid" 2>/dev/null || true)
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then kill -TERM "$qpid" 2>/dev/null || true; fi
	if [[ -n $tpid ]] && kill -0 "$tpid" 2>/dev/null; then
		kill -TERM -- "-$tpid" 2>/dev/null || kill -TERM "$tpid" 2>/dev/null || true
		wait "$tpid" 2>/dev/null || true
	fi
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		sleep 1
		kill -KILL "$qpid" 2>/dev/null || true
	fi
	if [[ -n $spid ]]; then
		kill -TERM "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- initramfs
t_ird=$(now)
S=$tmp/root
mkdir -p "$S"
for d in bin sbin lib lib64; do
	if [[ -L /$d ]]; then
		mkdir -p "$S/$(readlink "/$d")"
		ln -s "$(readlink "/$d")" "$S/$d"
	else
		mkdir -p "$S/$d"
	fi
done
mkdir -p "$S"/{usr/bin,usr/sbin,usr/local/bin,usr/local/sbin,etc/lvm,etc/vm,proc,sys,dev,run,tmp,root,mnt/share,bb,lib/modules/vm}

# Binaries at their host paths, plus every library ldd lists, in a few batched
# commands (a fork costs ~10 ms here; per-file copying took seconds).
tools=(busybox dash bash lvm dmsetup pdata_tools mke2fs mkfs.ext4 e2fsck tune2fs dumpe2fs wipefs
	fsfreeze blkid lsblk findmnt mount umount losetup mkfs.btrfs btrfs)
if type -P mkfs.xfs >/dev/null; then tools+=(mkfs.xfs); fi
mapfile -t paths < <(type -P "${tools[@]}" || true)
if [[ ${#paths[@]} -ne ${#tools[@]} ]]; then
	for t in "${tools[@]}"; do type -P "$t" >/dev/null || die "$t not found on the host"; done
fi
bin_srcs=()
for b in "${bins[@]}"; do bin_srcs+=("$(realpath "$b")"); done
mapfile -t libs < <(ldd "${paths[@]}" "${bin_srcs[@]}" 2>/dev/null |
	sed -n 's|.*=> \(/[^ ]*\) (0x.*|\1|p; s|^[[:space:]]*\(/[^ :]*\) (0x.*|\1|p' | sort -u || true)
cp -L --parents -t "$S" "${paths[@]}" "${libs[@]}"
ln -sf dash "$S/usr/bin/sh"
# The lvm and pdata_tools front ends (pvcreate, lvs, thin_check, thin_delta, ...) stay symlinks.
mapfile -t links < <(find /usr/sbin /usr/bin -maxdepth 1 -type l \( -lname lvm -o -lname '*/lvm' \
	-o -lname pdata_tools -o -lname '*/pdata_tools' \))
[[ ${#links[@]} -eq 0 ]] || cp -P --parents -t "$S" "${links[@]}"
for i in "${!bins[@]}"; do
	install -m 0755 "${bin_srcs[$i]}" "$S/usr/local/bin/${bins[$i]##*/}"
done
for c in "${copies[@]}"; do
	src=${c%%:*} dst=${c#*:}
	mkdir -p "$S$(dirname "$dst")"
	cp -a "$src" "$S$dst"
done

cat >"$S/etc/lvm/lvm.conf" <<'EOF'
# No udev in the guest.
devices {
	obtain_device_list_from_udev = 0
	external_device_info_source = "none"
	use_devicesfile = 0
}
activation {
	udev_sync = 0
	udev_rules = 0
	verify_udev_operations = 0
	monitoring = 0
}
global {
	use_lvmpolld = 0
}
EOF
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$S/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\n' >"$S/etc/group"
: >"$S/etc/fstab"
ln -s /proc/self/mounts "$S/etc/mtab"

# Kernel modules: the default set plus --modules, with their modules.dep
# dependencies first. crc32c_generic leads: it is a softdep of libcrc32c that
# modules.dep does not list (dm-persistent-data, btrfs, xfs fail without it).
declare -A mod_path=() mod_deps=() builtin=() loaded=()
norm=""
normalize() { local n=${1##*/}; n=${n%%.ko*}; norm=${n//-/_}; } # no fork: 4000 lines
while IFS= read -r line; do
	normalize "${line%%:*}"
	n=$norm
	mod_path[$n]=${line%%:*}
	mod_deps[$n]=${line#*:}
done <"$moddir/modules.dep"
if [[ -f $moddir/modules.builtin ]]; then
	while IFS= read -r line; do normalize "$line"; builtin[$norm]=1; done <"$moddir/modules.builtin"
fi
mod_order=()
add_module() { # name
	local n d
	normalize "$1"
	n=$norm
	[[ -z ${loaded[$n]:-} ]] || return 0
	if [[ -n ${builtin[$n]:-} ]]; then loaded[$n]=1; return 0; fi
	[[ -n ${mod_path[$n]:-} ]] || die "kernel module $1 not found in $kver"
	loaded[$n]=1
	for d in ${mod_deps[$n]}; do add_module "$d"; done
	mod_order+=("$n")
}
modules=(crc32c_generic virtio_pci virtio_blk dm_snapshot dm_thin_pool ext4)
[[ -n $share ]] && modules+=(9p 9pnet_virtio)
IFS=, read -r -a more <<<"$extra_modules"
for m in "${more[@]}"; do if [[ -n $m ]]; then modules+=("$m"); fi; done
for m in "${modules[@]}"; do add_module "$m"; done
mod_files=()
for n in "${mod_order[@]}"; do mod_files+=("$moddir/${mod_path[$n]}"); done
[[ ${#mod_files[@]} -eq 0 ]] || cp -t "$S/lib/modules/vm" "${mod_files[@]}"
printf '%s\n' "${mod_files[@]##*/}" >"$S/etc/vm/modules"

# The command, run by bash in the guest.
{
	if [[ -n $share ]]; then
		echo 'grep -q " /mnt/share 9p " /proc/mounts && cd /mnt/share ||'
		echo '	{ echo "run-vm: the 9p share is not mounted" >&2; exit 125; }'
	else
		echo 'cd /root'
	fi
	for e in "${envs[@]}"; do printf 'export %q=%q\n' "${e%%=*}" "${e#*=}"; done
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$S/etc/vm/cmd.sh"
[[ -n $share ]] && touch "$S/etc/vm/share"
echo "$ndisks" >"$S/etc/vm/disks"

cat >"$S/init" <<'EOF'
#!/bin/dash
# Guest init: dash, busybox applets in /bb after the real tools in PATH.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/bb
export HOME=/root TERM=dumb LC_ALL=C LVM_SUPPRESS_FD_WARNINGS=1
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb --install -s /bb
exec </dev/console >/dev/console 2>&1
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs tmpfs /run
$bb mount -t tmpfs tmpfs /tmp
$bb mkdir -p /run/lock /run/lvm
while read -r m; do
	$bb insmod "/lib/modules/vm/$m" || echo "init: insmod $m failed"
done </etc/vm/modules
if [ -e /etc/vm/share ]; then
	$bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /mnt/share ||
		echo "init: mounting the 9p share failed"
fi
n=$(cat /etc/vm/disks)
for d in vda vdb; do
	[ "$n" -gt 0 ] || break
	n=$((n - 1))
	i=0
	while [ ! -b /dev/$d ] && [ $i -lt 300 ]; do $bb sleep 0.1; i=$((i + 1)); done
	[ -b /dev/$d ] || echo "init: /dev/$d did not appear"
done
$bb stty -F /dev/ttyS1 -onlcr 2>/dev/null
read -r up _ </proc/uptime
echo "@@BOOTED uptime=$up" >/dev/ttyS1
/bin/bash /etc/vm/cmd.sh </dev/null >/dev/ttyS1 2>&1
rc=$?
echo "@@EXIT rc=$rc" >/dev/ttyS1
$bb sync
[ -e /etc/vm/share ] && $bb umount /mnt/share 2>/dev/null
$bb poweroff -f
EOF
chmod 0755 "$S/init"

(cd "$S" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$tmp/initrd.gz"
rm -rf "$S"
ird_mb=$(du -m "$tmp/initrd.gz" | cut -f1)
t_irdend=$(now)

# ---------------------------------------------------------------- qemu
use_kvm=0
case $accel in
kvm) use_kvm=1 ;;
auto)
	if grep -qwE 'vmx|svm' /proc/cpuinfo 2>/dev/null && (: <>/dev/kvm) 2>/dev/null; then use_kvm=1; fi
	;;
esac
if [[ $use_kvm -eq 1 ]]; then
	accel_args=(-accel kvm -cpu host)
else
	accel_args=(-accel "tcg,thread=multi" -cpu max)
fi
disk_args=()
for ((i = 0; i < ndisks; i++)); do
	truncate -s "$disk_size" "$tmp/disk$i.img"
	disk_args+=(-drive "file=$tmp/disk$i.img,format=raw,if=virtio,cache=unsafe,aio=threads")
done
share_args=()
if [[ -n $share ]]; then
	share_args=(-virtfs "local,path=$share,mount_tag=share,security_model=none,id=share")
fi
: >"$tmp/output.log"
: >"$tmp/console.log"

note "kernel $kver ($kpkg), $([[ $use_kvm -eq 1 ]] && echo KVM || echo TCG), initrd ${ird_mb} MB built in $(elapsed "$t_ird" "$t_irdend") s, modules: ${mod_order[*]}"
t_q=$(now)
timeout -k 5 "$timeout_s" qemu-system-x86_64 "${accel_args[@]}" -machine q35 -m "$mem" -smp "$smp" \
	-nodefaults -no-user-config -display none -no-reboot -monitor none \
	-kernel "$kimage" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
	-serial "file:$tmp/console.log" -serial "file:$tmp/output.log" \
	"${disk_args[@]}" "${share_args[@]}" -pidfile "$tmp/qemu.pid" \
	</dev/null >"$tmp/qemu.err" 2>&1 &
tpid=$!

# Stream ttyS1 while qemu runs; the sentinels become notes. tail follows qemu's
# own pid (reaped by timeout, so never a zombie that tail would wait on forever).
stream() {
	local qpid="" line
	while [[ ! -s $tmp/qemu.pid && ! -e $tmp/qemu.done ]]; do sleep 0.1; done
	qpid=$(cat "$tmp/qemu.pid" 2>/dev/null || true)
	if [[ -n $qpid ]]; then
		tail -n +1 -f -s 0.2 --pid="$qpid" "$tmp/output.log"
	else
		cat "$tmp/output.log"
	fi | while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		case $line in
		@@BOOTED*) note "guest booted at $(elapsed "$t_q" "$(now)") s (guest ${line#@@BOOTED } s)" ;;
		*@@EXIT\ rc=*)
			# The command's last line may lack its newline.
			[[ -z ${line%%@@EXIT rc=*} ]] || printf '%s\n' "${line%%@@EXIT rc=*}"
			note "guest command finished at $(elapsed "$t_q" "$(now)") s: ${line##*@@EXIT }"
			;;
		*) printf '%s\n' "$line" ;;
		esac
	done
}
stream &
spid=$!
qrc=0
wait "$tpid" || qrc=$?
tpid=""
touch "$tmp/qemu.done"
wait "$spid" || true
spid=""
t_end=$(now)

rc=$(tr -d '\r' <"$tmp/output.log" | sed -n 's/.*@@EXIT rc=\([0-9]\{1,\}\).*/\1/p' | tail -n 1)
summary="qemu $(elapsed "$t_q" "$t_end") s, total $(elapsed "$t_start" "$t_end") s"
if [[ -n $rc ]]; then
	note "$summary, exit $rc"
	exit "$rc"
fi
if [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
	note "hard timeout after ${timeout_s} s ($summary); last console lines:"
	rc=124
else
	note "no exit sentinel (qemu status $qrc, $summary); qemu said:"
	sed 's/^/  /' "$tmp/qemu.err" >&2
	note "last console lines:"
	rc=125
fi
tail -n 50 "$tmp/console.log" | tr -d '\r' | sed 's/^/  /' >&2
exit "$rc"
