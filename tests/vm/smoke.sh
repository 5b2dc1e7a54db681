#!/bin/bash
# smoke.sh: runs INSIDE the run-vm.sh guest and checks that the LVM pieces snaprotate
# relies on work with this kernel: thick LV + ext4, thick snapshot, thin pool, thin LV,
# thin snapshots, JSON lvs report, thin_delta against a metadata snapshot, LV tags,
# fsfreeze, and a clean teardown. Exits 0 only if all of it worked.
#
#   tests/vm/run-vm.sh --share tests/vm -- ./smoke.sh
#
# It wipes SMOKE_DISK (default /dev/vda): never run it on a real machine.
set -euo pipefail

DISK=${SMOKE_DISK:-/dev/vda}
VG=smokevg
MNT=/mnt/smoke
passed=0
failed=0
current=""
reserved=""

[[ -f /etc/vm/cmd.sh ]] || { echo "smoke: not in a run-vm.sh guest, refusing to wipe $DISK" >&2; exit 2; }

t_step=${EPOCHREALTIME/,/.}
step() { current=$*; t_step=${EPOCHREALTIME/,/.}; echo "== $current"; }
ok() {
	passed=$((passed + 1))
	echo "   ok: $current ($(awk -v a="$t_step" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }') s)"
}
fail() { echo "   FAIL: $current: $*" >&2; exit 1; }

teardown() {
	# fsfreeze -u and umount before vgremove: a frozen or mounted fs keeps the disk busy.
	local m
	for m in "$MNT/thick" "$MNT/thin" "$MNT/snap" "$MNT/tsnap"; do
		fsfreeze -u "$m" 2>/dev/null || true
		umount "$m" 2>/dev/null || true
	done
	if [[ -n $reserved ]]; then
		dmsetup message "$reserved" 0 release_metadata_snap 2>/dev/null || true
		reserved=""
	fi
	vgremove -f -y "$VG" >/dev/null 2>&1 || true
	pvremove -y "$DISK" >/dev/null 2>&1 || true
	vgmknodes --refresh >/dev/null 2>&1 || true
}
on_exit() {
	local rc=$?
	trap - EXIT
	if [[ $rc -ne 0 ]]; then
		failed=1
		echo "smoke: failed at step: $current (exit $rc)" >&2
		teardown
	fi
	echo "smoke: $passed passed, $failed failed"
	exit "$rc"
}
trap on_exit EXIT

# The value of FIELD in the JSON object of lvs REPORT whose lv_name is LV.
json_field() { # REPORT LV FIELD
	local line
	line=$(grep -F "\"lv_name\":\"$2\"" <<<"$1" || true)
	[[ -n $line ]] || return 1
	sed -n "s/.*\"$3\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$line"
}

echo "smoke: kernel $(uname -r), lvm $(lvm version | sed -n 's/^ *LVM version: *\([^ ]*\).*/\1/p')"
mkdir -p "$MNT"/{thick,thin,snap,tsnap}

step "pvcreate + vgcreate on $DISK"
[[ -b $DISK ]] || fail "$DISK is not a block device"
wipefs -a -q "$DISK"
pvcreate -q -y "$DISK"
vgcreate -q "$VG" "$DISK"
vgs --noheadings -o vg_name "$VG" | grep -qw "$VG" || fail "vgs does not list $VG"
ok

step "thick LV with ext4, mounted"
lvcreate -q -y -L 128M -n data "$VG"
mkfs.ext4 -q -F "/dev/$VG/data"
mount "/dev/$VG/data" "$MNT/thick"
echo one >"$MNT/thick/file"
sync
ok

step "thick snapshot (lvcreate -s) of the mounted LV, with a tag"
lvcreate -q -y -s -L 32M -n data_snap1 --addtag "snaprotate:ts=2024-01-01T00:00:00Z" "$VG/data"
echo two >"$MNT/thick/file"
mount -o ro,noload "/dev/$VG/data_snap1" "$MNT/snap"
[[ $(cat "$MNT/snap/file") == one ]] || fail "snapshot content is '$(cat "$MNT/snap/file")', not 'one'"
umount "$MNT/snap"
ok

step "fsfreeze -f / -u on the mounted ext4"
fsfreeze -f "$MNT/thick"
if fsfreeze -f "$MNT/thick" 2>/dev/null; then fail "a second freeze succeeded: the fs was not frozen"; fi
fsfreeze -u "$MNT/thick"
echo three >"$MNT/thick/file" || fail "cannot write after thaw"
ok

step "thin pool + thin LV with ext4"
lvcreate -q -y --type thin-pool -L 256M -n pool "$VG"
lvcreate -q -y -V 64M --thinpool "$VG/pool" -n thin
mkfs.ext4 -q -F "/dev/$VG/thin"
mount "/dev/$VG/thin" "$MNT/thin"
echo a >"$MNT/thin/a"
sync
ok

step "two thin snapshots with data written between them"
lvcreate -q -y -s -n tsnap1 "$VG/thin"
dd if=/dev/urandom of="$MNT/thin/b" bs=1M count=4 2>/dev/null
sync
lvcreate -q -y -s -n tsnap2 "$VG/thin"
ok

step "lvs --reportformat json"
report=$(lvs --reportformat json -o lv_name,lv_tags,origin,pool_lv,lv_attr,thin_id "$VG")
echo "$report"
grep -q '"report"' <<<"$report" || fail "no report object"
[[ $(json_field "$report" data_snap1 origin) == data ]] || fail "data_snap1 origin"
[[ $(json_field "$report" data_snap1 lv_tags) == "snaprotate:ts=2024-01-01T00:00:00Z" ]] || fail "data_snap1 tag"
[[ $(json_field "$report" data_snap1 lv_attr) == s* ]] || fail "data_snap1 is not a snapshot"
[[ $(json_field "$report" pool lv_attr) == t* ]] || fail "pool is not a thin pool"
for lv in thin tsnap1 tsnap2; do
	[[ $(json_field "$report" "$lv" pool_lv) == pool ]] || fail "$lv pool_lv"
	[[ $(json_field "$report" "$lv" lv_attr) == V* ]] || fail "$lv is not a thin volume"
done
for lv in tsnap1 tsnap2; do
	[[ $(json_field "$report" "$lv" origin) == thin ]] || fail "$lv origin"
	# Thin snapshots get the activation-skip flag: attr ends in k.
	[[ $(json_field "$report" "$lv" lv_attr) == *k ]] || fail "$lv has no activation skip flag"
done
id1=$(json_field "$report" tsnap1 thin_id)
id2=$(json_field "$report" tsnap2 thin_id)
[[ $id1 =~ ^[0-9]+$ && $id2 =~ ^[0-9]+$ && $id1 != "$id2" ]] || fail "thin ids '$id1' '$id2'"
ok

step "thin_delta between tsnap1 ($id1) and tsnap2 ($id2) on a metadata snapshot"
tpool=$VG-pool-tpool
dmsetup message "$tpool" 0 reserve_metadata_snap
reserved=$tpool
delta=$(thin_delta -m --snap1 "$id1" --snap2 "$id2" "/dev/mapper/$VG-pool_tmeta")
dmsetup message "$tpool" 0 release_metadata_snap
reserved=""
echo "$delta" | head -n 8
grep -q '<diff ' <<<"$delta" || fail "no <diff> element"
grep -qE '<(different|right_only)' <<<"$delta" || fail "no changed blocks reported"
ok

step "thin snapshot activation (-K) and read-only mount"
lvchange -q -ay -K "$VG/tsnap1"
mount -o ro,noload "/dev/$VG/tsnap1" "$MNT/tsnap"
[[ -f $MNT/tsnap/a && ! -e $MNT/tsnap/b ]] || fail "tsnap1 does not hold the pre-snapshot state"
umount "$MNT/tsnap"
lvchange -q -an "$VG/tsnap1"
ok

step "LV tags: add, read, delete"
lvchange -q --addtag smoke:tag=1 --addtag other "$VG/tsnap2"
tags=$(lvs --noheadings -o lv_tags "$VG/tsnap2" | tr -d ' ')
[[ $tags == *smoke:tag=1* && $tags == *other* ]] || fail "tags read back as '$tags'"
lvchange -q --deltag other "$VG/tsnap2"
tags=$(lvs --noheadings -o lv_tags "$VG/tsnap2" | tr -d ' ')
[[ $tags == smoke:tag=1 ]] || fail "after --deltag: '$tags'"
ok

step "teardown: fsfreeze -u, umount, vgremove -f, vgmknodes --refresh"
teardown
if dmsetup ls 2>/dev/null | grep -q "^$VG-"; then fail "dm devices left: $(dmsetup ls)"; fi
[[ ! -e /dev/$VG ]] || fail "/dev/$VG still exists"
if pvs --noheadings 2>/dev/null | grep -q .; then fail "PVs left"; fi
ok
