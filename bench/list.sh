#!/bin/bash
# snaprotate list against raw `btrfs subvolume list` at 0, 100, 1,000 and 10,000
# snapshots of one volume. Whole-process wall time (median/min/max of RUNS runs)
# and peak RSS. Run as root: bench/list.sh [./snaprotate]
set -euo pipefail
SNAPROTATE=$(realpath "${1:-./snaprotate}")
RUNS=${RUNS:-7}
SIZES=${SIZES:-"0 100 1000 10000"}
. "$(dirname "$0")/lib.sh"
bench_deps
bench_setup

have=0
t=$(date -u -d 2020-01-01T00:00:00Z +%s)
printf '| snapshots | snaprotate list (ms) | list --json (ms) | raw btrfs subvolume list -o (ms) | snaprotate peak RSS (KiB) |\n'
printf '| ---: | ---: | ---: | ---: | ---: |\n'
for n in $SIZES; do
	while ((have < n)); do
		"$SNAPROTATE" -c "$conf" -q snapshot --kind timeline data \
			--now "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
		t=$((t + 3600))
		have=$((have + 1))
	done
	sync
	read -r med min max rss < <(time_cmd "$RUNS" "$SNAPROTATE" -c "$conf" list)
	read -r jmed jmin jmax _ < <(time_cmd "$RUNS" "$SNAPROTATE" -c "$conf" list --json)
	read -r rmed rmin rmax _ < <(time_cmd "$RUNS" btrfs subvolume list -o "$work/mnt")
	printf '| %d | %s (%s–%s) | %s (%s–%s) | %s (%s–%s) | %s |\n' "$n" "$med" "$min" "$max" \
		"$jmed" "$jmin" "$jmax" "$rmed" "$rmin" "$rmax" "$rss"
done
