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
