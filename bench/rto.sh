#!/bin/bash
# The recovery time a user would plan with (RTO): wall time of
#   - `snaprotate rollback` of a data subvolume (1 GiB in 1,024 files, with a
#     nested subvolume), to a snapshot and back, minus nothing: the snapshot it
#     takes of the state before is part of the time;
#   - `snaprotate restore` of that snapshot from a file:// and an ssh:// target
#     (127.0.0.1) onto another btrfs, beside the raw `btrfs send | btrfs receive`
#     of the target's copy (and `ssh HOST btrfs send | btrfs receive`), each
#     also followed by `sync -f` on the new filesystem: a restore declares the
#     copy whole only once it is on disk (info.json written and fsynced after
#     the receive), so the floor it is measured against is the durable one.
# Restores and raw runs alternate; between any two, untimed: the restored
# subvolume deleted, sync, the cleaner waited for. Median (min-max) of RUNS.
# Run as root: bench/rto.sh [path/to/snaprotate]. Knob: RUNS=5.
set -euo pipefail

SNAPROTATE=$(realpath "${1:-./snaprotate}")
RUNS=${RUNS:-5}
work=$(mktemp -d /tmp/snaprotate-bench-rto.XXXXXX)
loops=()
sshd_pid=""

cleanup() {
	local rc=$? m l
	set +e
	trap - EXIT INT TERM
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
	for m in "$work/src" "$work/dst" "$work/new"; do
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	for l in "${loops[@]}"; do losetup -d "$l"; done
	rm -rf --one-file-system "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for p in openssh-server openssh-client btrfs-progs python3; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		apt-get install -y -q "$p" >/dev/null
done

. "$(dirname "$0")/lib.sh"
bench_mkfs_mount src 4G
bench_mkfs_mount dst 4G
bench_mkfs_mount new 4G
btrfs -q subvolume create "$work/src/data"
btrfs -q subvolume create "$work/src/data/nested"
python3 - "$work/src/data" <<'PY'
import os, sys
for i in range(1024):
    with open(os.path.join(sys.argv[1], f"f{i:04d}"), "wb") as f:
        f.write(os.urandom(1 << 20))
PY
mkdir -p "$work/dst/sr"

# sshd on loopback: one key pinned to `snaprotate serve`, one free for the raw pipeline.
bench_sshd "$work" "$SNAPROTATE" "$work/dst/sr"
conf="$work/rotate.conf"
cat >"$conf" <<CONF
[global]
lock_dir = $work/lock
state_dir = $work/state

[volume data]
backend = btrfs
path = $work/src/data
snapshot_dir = $work/src/snaps
retain = hourly=1000
retain_manual = all
targets = local ssh

[target local]
url = file://$work/dst/sr
retain = hourly=1000

[target ssh]
url = ssh://root@127.0.0.1:$port$work/dst/sr
ssh_identity = $work/sr_key
ssh_options = ${SSH_OPTS[*]}
retain = hourly=1000
CONF
chmod 600 "$conf"
sr() { "$SNAPROTATE" -c "$conf" -q "$@"; }
S=$(sr snapshot --kind timeline data --now 2026-11-27T10:00:00Z)
echo changed >"$work/src/data/f0000"
sr send --target local data
copy="$work/dst/sr/data/$S/snapshot"

settle() {
	sync
	btrfs subvolume sync "$work/new" >/dev/null 2>&1 || true
	btrfs subvolume sync "$work/src" >/dev/null 2>&1 || true
	sync
}
ms() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')" ; }
declare -A times

for ((i = 0; i < RUNS; i++)); do
	# rollback to S, then back to the state before it
	t0=$EPOCHREALTIME
	sr rollback data "$S" --now "2026-11-28T$(printf %02d "$i"):00:00Z"
	t1=$EPOCHREALTIME
	times[rollback]+="$(ms "$t0" "$t1") "
	back=$(sr list --json data | python3 -c 'import json,sys; print([s["name"] for s in json.load(sys.stdin)["volumes"][0]["snapshots"] if s["description"].startswith("before rollback")][-1])')
	sr rollback data "$back" --now "2026-11-28T$(printf %02d "$i"):30:00Z"
	settle
	# Each round in another order: none always runs right after the rollbacks' writeback.
	order=(local raw-durable ssh raw-ssh-durable raw raw-ssh)
	for ((k = 0; k < ${#order[@]}; k++)); do
		how=${order[(k + i) % ${#order[@]}]}
		to="$work/new/r$i-$how"
		t0=$EPOCHREALTIME
		case $how in
		local | ssh) sr restore --target "$how" data "$S" --to "$to" ;;
		raw | raw-durable) mkdir "$to" && btrfs send -q "$copy" | btrfs receive -q "$to" ;;
		raw-ssh*) mkdir "$to" && ssh -p "$port" -i "$work/raw_key" "${SSH_OPTS[@]}" root@127.0.0.1 \
			btrfs send -q "$copy" | btrfs receive -q "$to" ;;
		esac
		case $how in
		*durable) sync -f "$to" ;;
		esac
		t1=$EPOCHREALTIME
		times[$how]+="$(ms "$t0" "$t1") "
		case $how in
		local | ssh) btrfs -q subvolume delete "$to"; rm -f "$to.info.json" ;;
		*) btrfs -q subvolume delete "$to/snapshot"; rmdir "$to" ;;
		esac
		settle
	done
done

stat() { python3 -c "import statistics,sys; v=[int(x) for x in sys.argv[1:]]; print(f'{statistics.median(v):.0f} ({min(v)}-{max(v)})')" $1; }
mib=$(du -sm --apparent-size "$work/src/data" | cut -f1)
printf '| what (%s MiB, 1,024 files) | ms, median (min-max) of %d |\n| --- | ---: |\n' "$mib" "$RUNS"
for k in rollback local raw raw-durable ssh raw-ssh raw-ssh-durable; do
	printf '| %s | %s |\n' "$k" "$(stat "${times[$k]}")"
done
ratio() { python3 -c "import statistics as s; a=[int(x) for x in '$1'.split()]; b=[int(x) for x in '$2'.split()]; print(f'{s.median(b)/s.median(a):.2f}')"; }
printf '| restore local, throughput / raw, durable raw | %s, %s |\n' \
	"$(ratio "${times[local]}" "${times[raw]}")" "$(ratio "${times[local]}" "${times[raw-durable]}")"
printf '| restore ssh, throughput / raw ssh, durable raw ssh | %s, %s |\n' \
	"$(ratio "${times[ssh]}" "${times[raw-ssh]}")" "$(ratio "${times[ssh]}" "${times[raw-ssh-durable]}")"
