#!/bin/bash
# `snaprotate check` and `check --prometheus`, run by monitoring every minute,
# against raw `btrfs subvolume list -o` of the same snapshots: 10 volumes x 1,000
# snapshots, and 1 volume x 10,000. Whole-process wall time (median/min/max of
# RUNS runs) and peak RSS. The snapshots are made in-process with libbtrfsutil
# (python3-btrfsutil) and given the info.json snaprotate writes, so that 20,000
# of them take a minute rather than an hour; a first `snaprotate run` per volume
# checks they are taken for its own. Run as root: bench/check.sh [./snaprotate]
set -euo pipefail
SNAPROTATE=$(realpath "${1:-./snaprotate}")
RUNS=${RUNS:-9}
. "$(dirname "$0")/lib.sh"
bench_deps
dpkg-query -W -f='${db:Status-Status}' python3-btrfsutil 2>/dev/null | grep -qx installed ||
	apt-get install -y -q python3-btrfsutil >/dev/null
BENCH_FS_SIZE=16G bench_setup

# make_volume SET VOLUME COUNT: in the subvolume SET, the volume, its snapshot
# directory and COUNT hourly snapshots. Each set is listed raw on its own.
make_volume() {
	[ -d "$work/mnt/$1" ] || btrfs -q subvolume create "$work/mnt/$1"
	btrfs -q subvolume create "$work/mnt/$1/$2"
	/usr/bin/python3 - "$work/mnt/$1/$2" "$work/mnt/$1/snaps-$2" "$2" "$3" <<'PY'
import btrfsutil, json, os, sys, uuid
from datetime import datetime, timedelta, timezone
src, sd, vol, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(sd, mode=0o700, exist_ok=True)
parent = str(uuid.UUID(bytes=btrfsutil.subvolume_info(src).uuid))
t0 = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc) - timedelta(hours=n)
for i in range(n):
    t = t0 + timedelta(hours=i)
    name = f"{vol}.{t:%Y%m%dT%H%M%SZ}"
    os.mkdir(f"{sd}/{name}", 0o700)
    btrfsutil.create_snapshot(src, f"{sd}/{name}/snapshot", read_only=True)
    u = str(uuid.UUID(bytes=btrfsutil.subvolume_info(f"{sd}/{name}/snapshot").uuid))
    info = {"format": 1, "volume": vol, "name": name, "created": f"{t:%Y-%m-%dT%H:%M:%SZ}",
            "kind": "timeline", "description": "", "pinned": False, "pre": None,
            "uuid": u, "parent_uuid": parent, "creator": "snaprotate 0.1.0",
            "sent_to": {}, "source": vol}
    with open(f"{sd}/{name}/info.json", "w") as f:
        json.dump(info, f, indent=2)
PY
}

conf_volume() {
	cat >>"$conf" <<CONF

[volume $2]
backend = btrfs
path = $work/mnt/$1/$2
snapshot_dir = $work/mnt/$1/snaps-$2
retain = hourly=100000
CONF
}

measure() {
	local what=$1 set=$2
	shift 2
	read -r med min max rss < <(time_cmd "$RUNS" "$SNAPROTATE" -c "$conf" check "$@")
	read -r pmed pmin pmax _ < <(time_cmd "$RUNS" "$SNAPROTATE" -c "$conf" check --prometheus "$@")
	read -r rmed rmin rmax _ < <(time_cmd "$RUNS" btrfs subvolume list -o "$work/mnt/$set")
	printf '| %s | %s (%s–%s) | %s (%s–%s) | %s (%s–%s) | %s | %s |\n' "$what" \
		"$med" "$min" "$max" "$pmed" "$pmin" "$pmax" "$rmed" "$rmin" "$rmax" \
		"$(python3 -c "print(f'{$med / $rmed:.2f}, {$pmed / $rmed:.2f}')")" "$rss"
}

printf '| snapshots | check (ms) | check --prometheus (ms) | btrfs subvolume list -o (ms) | ratio | peak RSS (KiB) |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: |\n'
# Only the bench's volumes: drop the default one bench_setup wrote.
sed -i '/^\[volume data\]/,$d' "$conf"
make_volume one big 10000
conf_volume one big
"$SNAPROTATE" -c "$conf" -q run big --now 2026-12-07T00:30:00Z >/dev/null
# Taken for its own: the 10,000 and the one run took, all complete.
n=$("$SNAPROTATE" -c "$conf" list --json big |
	python3 -c 'import json,sys; print(sum(s["complete"] for s in json.load(sys.stdin)["volumes"][0]["snapshots"]))')
[ "$n" = 10001 ] || { echo "bench: $n complete snapshots of big, not 10001" >&2; exit 1; }
sync
measure "1 × 10,000" one big --now 2026-12-07T00:40:00Z
vols=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	make_volume ten "v$i" 1000
	conf_volume ten "v$i"
	vols+=("v$i")
done
"$SNAPROTATE" -c "$conf" -q run "${vols[@]}" --now 2026-12-07T00:30:00Z >/dev/null
sync
measure "10 × 1,000" ten "${vols[@]}" --now 2026-12-07T00:40:00Z
