#!/bin/bash
# Incremental send throughput: snaprotate against the raw pipelines
#   btrfs send -p P S | btrfs receive D                 (local)
#   btrfs send -p P S | ssh HOST btrfs receive D        (ssh to 127.0.0.1)
# for two changes: 1 GiB in 1,024 files, and 20,000 files of 4 KiB.
# Each timed run receives the same incremental stream into a target that holds
# the parent; the received copy is deleted between runs (not timed).
# Run as root: bench/send.sh [path/to/snaprotate]   (RUNS=3 by default)
set -euo pipefail

SNAPROTATE=$(realpath "${1:-./snaprotate}")
RUNS=${RUNS:-3}
work=$(mktemp -d /tmp/snaprotate-bench-send.XXXXXX)
loops=()
sshd_pid=""

cleanup() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
	for m in "$work/src" "$work/dst"; do
		mountpoint -q "$m" && umount "$m"
	done
	for l in "${loops[@]}"; do
		losetup -d "$l" || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

for p in openssh-server openssh-client btrfs-progs python3; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		apt-get install -y -q "$p" >/dev/null
done

mkfs_mount() {
	truncate -s "$2" "$work/$1.img"
	mkfs.btrfs -q -f "$work/$1.img" >/dev/null
	local l
	l=$(losetup --find --show "$work/$1.img")
	loops+=("$l")
	mkdir -p "$work/$1"
	mount "$l" "$work/$1"
}
mkfs_mount src 6G
mkfs_mount dst 6G
btrfs -q subvolume create "$work/src/data"
mkdir -p "$work/dst/raw" "$work/dst/sr"

# sshd on loopback: one key pinned to `snaprotate serve`, one free for the raw pipeline.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$work/sr_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/raw_key"
{
	printf 'command="%s serve --root %s",restrict %s\n' "$SNAPROTATE" "$work/dst/sr" \
		"$(cat "$work/sr_key.pub")"
	printf 'restrict %s\n' "$(cat "$work/raw_key.pub")"
} >"$work/authorized_keys"
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/hostkey
AuthorizedKeysFile $work/authorized_keys
StrictModes no
PidFile $work/sshd.pid
UsePAM no
PasswordAuthentication no
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$work/sshd_config"
until [ -s "$work/sshd.pid" ]; do :; done
sshd_pid=$(cat "$work/sshd.pid")
SSH=(ssh -p "$port" -i "$work/raw_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR -o BatchMode=yes root@127.0.0.1)

conf="$work/rotate.conf"
write_conf() {
	cat >"$conf" <<EOF
[global]
lock_dir = $work/lock

[volume data]
backend = btrfs
path = $work/src/data
snapshot_dir = $work/src/snaps
retain = hourly=100
targets = t

[target t]
$1
retain = hourly=100
EOF
	chmod 600 "$conf"
}
LOCAL_URL="url = file://$work/dst/sr"
SSH_URL="url = ssh://root@127.0.0.1:$port$work/dst/sr
ssh_identity = $work/sr_key
ssh_options = -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"

now() { date +%s.%N; }
sr() { "$SNAPROTATE" -c "$conf" -q "$@"; }

# One case: NAME, a function that makes the change, an hour digit for the stamps.
bench_case() {
	local name=$1 change=$2 t0 t1 bytes mode i
	local base="data.20261101T0${3}0000Z" next="data.20261101T0${3}3000Z"

	write_conf "$LOCAL_URL"
	sr snapshot --kind timeline data --now "2026-11-01T0${3}:00:00Z" >/dev/null
	sr send data			# the parent, untimed
	$change
	sync
	sr snapshot --kind timeline data --now "2026-11-01T0${3}:30:00Z" >/dev/null
	local P="$work/src/snaps/$base/snapshot" S="$work/src/snaps/$next/snapshot"
	bytes=$(btrfs send -q -p "$P" "$S" | wc -c)
	mkdir -p "$work/dst/raw/$name/parent"
	btrfs send -q "$P" | btrfs receive -q "$work/dst/raw/$name/parent"
	for mode in local ssh; do
		local raw=() ours=()

		if [ "$mode" = local ]; then write_conf "$LOCAL_URL"; else write_conf "$SSH_URL"; fi
		for ((i = 0; i < RUNS; i++)); do
			mkdir -p "$work/dst/raw/$name/child"
			t0=$(now)
			if [ "$mode" = local ]; then
				btrfs send -q -p "$P" "$S" | btrfs receive -q "$work/dst/raw/$name/child"
			else
				btrfs send -q -p "$P" "$S" |
					"${SSH[@]}" btrfs receive -q "$work/dst/raw/$name/child"
			fi
			t1=$(now)
			raw+=("$(python3 -c "print($t1 - $t0)")")
			btrfs -q subvolume delete "$work/dst/raw/$name/child/snapshot"
			btrfs -q filesystem sync "$work/dst"

			t0=$(now)
			sr send data
			t1=$(now)
			ours+=("$(python3 -c "print($t1 - $t0)")")
			rm_copy "$next"
		done
		report "$name" "$mode" "$bytes" "${raw[*]}" "${ours[*]}"
	done
}

# Deletes the target's copy of $1 behind snaprotate's back, so the next send repeats it.
rm_copy() {
	local d="$work/dst/sr/data/$1"
	[ -d "$d" ] || return 0
	btrfs -q subvolume delete "$d/snapshot"
	rm -rf "$d"
	btrfs -q filesystem sync "$work/dst"
}

report() {
	python3 - "$@" <<'PY'
import statistics, sys
name, mode, nbytes, raw, ours = sys.argv[1:6]
nbytes = int(nbytes)
raw = sorted(float(x) for x in raw.split())
ours = sorted(float(x) for x in ours.split())
mib = nbytes / 2**20
r, o = statistics.median(raw), statistics.median(ours)
print(f"| {name} | {mode} | {mib:.0f} | {mib / r:.1f} ({mib / raw[-1]:.1f}–{mib / raw[0]:.1f}) "
      f"| {mib / o:.1f} ({mib / ours[-1]:.1f}–{mib / ours[0]:.1f}) | {r / o:.2f} |")
PY
}

big_change() {
	mkdir -p "$work/src/data/big"
	for i in $(seq 1 "${BIG_FILES:-1024}"); do
		head -c 1048576 /dev/urandom >"$work/src/data/big/f$i"
	done
}
small_change() {
	python3 - "$work/src/data/small" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for i in range(int(os.environ.get("SMALL_FILES", "20000"))):
    with open(os.path.join(d, f"f{i}"), "wb") as f:
        f.write(os.urandom(4096))
PY
}

echo "| change | target | stream MiB | raw pipeline MiB/s | snaprotate MiB/s | ratio |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
bench_case big big_change 1
bench_case small small_change 2
