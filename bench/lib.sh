# Shared by the benchmarks: a throwaway loop btrfs and a timing helper.
# shellcheck shell=bash

bench_setup() {
	work=$(mktemp -d /tmp/snaprotate-bench.XXXXXX)
	loop=""
	trap bench_cleanup EXIT
	truncate -s "${BENCH_FS_SIZE:-8G}" "$work/fs.img"
	mkfs.btrfs -q -f "$work/fs.img" >/dev/null
	loop=$(losetup --find --show "$work/fs.img")
	mkdir "$work/mnt"
	mount "$loop" "$work/mnt"
	btrfs -q subvolume create "$work/mnt/data"
	conf="$work/rotate.conf"
	cat >"$conf" <<CONF
[global]
lock_dir = $work/lock
state_dir = $work/state

[volume data]
backend = btrfs
path = $work/mnt/data
snapshot_dir = $work/mnt/snaps
retain = daily=7 weekly=4 monthly=6
delete_batch = 0
CONF
	chmod 600 "$conf"
}

bench_cleanup() {
	mountpoint -q "$work/mnt" && umount "$work/mnt"
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$work"
}

# time_cmd RUNS CMD...: prints "median min max peak_rss_kib" (ms) of RUNS runs,
# timed by hyperfine (no shell in between), peak RSS by GNU time.
time_cmd() {
	local runs=$1
	shift
	local json rssf rss
	json=$(mktemp)
	rssf=$(mktemp)
	hyperfine -N -w 2 -r "$runs" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1
	/usr/bin/time -f '%M' -o "$rssf" "$@" >/dev/null 2>&1
	rss=$(tail -n 1 "$rssf")
	python3 - "$json" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"{r['median'] * 1000:.1f} {r['min'] * 1000:.1f} {r['max'] * 1000:.1f} {sys.argv[2]}")
PY
	rm -f "$json" "$rssf"
}

bench_deps() {
	local missing=""
	for p in hyperfine time python3; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
			missing="$missing $p"
	done
	[ -z "$missing" ] || apt-get install -y -q $missing >/dev/null
}

# bench_sshd DIR SNAPROTATE SERVE_ROOT: an sshd on 127.0.0.1 with its files in DIR; key
# DIR/sr_key is pinned to `SNAPROTATE serve --root SERVE_ROOT`, DIR/raw_key is free.
# Sets port, sshd_pid and SSH_OPTS; its log (-E DIR/sshd.log) has one "Accepted
# publickey" line per session. The caller kills "$sshd_pid".
bench_sshd() {
	local dir=$1
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$dir/sr_key"
	ssh-keygen -q -t ed25519 -N '' -f "$dir/raw_key"
	{
		printf 'command="%s serve --root %s",restrict %s\n' "$2" "$3" "$(cat "$dir/sr_key.pub")"
		printf 'restrict %s\n' "$(cat "$dir/raw_key.pub")"
	} >"$dir/authorized_keys"
	cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/hostkey
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PidFile $dir/sshd.pid
UsePAM no
PasswordAuthentication no
LogLevel INFO
CONF
	mkdir -p /run/sshd
	/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
	until [ -s "$dir/sshd.pid" ]; do :; done
	sshd_pid=$(cat "$dir/sshd.pid")
	SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
		-o BatchMode=yes)
}

# bench_mkfs_mount NAME SIZE: a fresh loop btrfs mounted at $work/NAME; its loop device
# is added to the caller's `loops` array for its cleanup.
bench_mkfs_mount() {
	local l
	truncate -s "$2" "$work/$1.img"
	mkfs.btrfs -q -f "$work/$1.img" >/dev/null
	l=$(losetup --find --show "$work/$1.img")
	loops+=("$l")
	mkdir -p "$work/$1"
	mount "$l" "$work/$1"
}
