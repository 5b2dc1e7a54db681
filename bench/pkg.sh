#!/bin/bash
# What a package hook adds to an upgrade: `pkg-pre` (apt's input on stdin) and
# `pkg-post`, as apt's two hooks run them, on a volume with 0, 1,000 and 10,000
# snapshots, beside two raw `btrfs subvolume snapshot -r` (the floor). Each timed
# run is one shell script doing the pair an hour after the previous one (so that no
# run shares the previous pair); both scripts run the same date(1) and shell.
# Beside them, where snapper is installed (SNAPPER=0 skips it), snapper's own apt
# hook path on its own subvolume with as many snapshots: `create -t pre -p`,
# `cleanup number`, `create -t post --pre-number`, `cleanup number`; its config
# (/etc/snapper/configs/srbenchpkg, /etc/default/snapper) is removed on exit.
# Median/min/max of RUNS runs (hyperfine), in ms. Run as root: bench/pkg.sh [./snaprotate]
set -euo pipefail
SNAPROTATE=$(realpath "${1:-./snaprotate}")
RUNS=${RUNS:-9}
SIZES=${SIZES:-"0 1000 10000"}
HELPER=$(dirname "$(realpath "$0")")/compare-helper.py
. "$(dirname "$0")/lib.sh"
bench_deps
BENCH_FS_SIZE=${BENCH_FS_SIZE:-16G} bench_setup
printf 'pkg_snapshots = yes\n' >>"$conf"
SNAPPER=${SNAPPER:-$(command -v snapper >/dev/null && echo 1 || echo 0)}
snapper_cfg=""
pkg_cleanup() {
	if [ -n "$snapper_cfg" ]; then
		rm -f "/etc/snapper/configs/$snapper_cfg"
		if [ -e "$work/default-snapper" ]; then
			cp -p "$work/default-snapper" /etc/default/snapper
		else
			rm -f /etc/default/snapper
		fi
	fi
	bench_cleanup
}
trap pkg_cleanup EXIT
if [ "$SNAPPER" = 1 ]; then
	[ ! -e /etc/default/snapper ] || cp -p /etc/default/snapper "$work/default-snapper"
	[ ! -e /etc/snapper/configs/srbenchpkg ] || { echo "srbenchpkg exists" >&2; exit 1; }
	snapper_cfg=srbenchpkg
	btrfs -q subvolume create "$work/mnt/sdata"
	snapper --no-dbus -c "$snapper_cfg" create-config "$work/mnt/sdata"
	sed -i 's/^TIMELINE_CREATE=.*/TIMELINE_CREATE="no"/' "/etc/snapper/configs/$snapper_cfg"
fi

# The existing snapshots are made by the helper (the snapshot ioctl and an info.json
# as snaprotate writes it), hourly from 2020; the pairs come from 2030 on.
name=$("$SNAPROTATE" -c "$conf" snapshot --kind timeline data --now 2019-12-31T00:00:00Z)
cp "$work/mnt/snaps/$name/info.json" "$work/info.json.template"
"$SNAPROTATE" -c "$conf" -q delete data "$name" >/dev/null
python3 - "$work/spec" <<PY
import json, sys
json.dump({"layout": "sr", "vol": "data", "mnt": "$work/mnt", "src": "$work/mnt/data",
           "snapdir": "$work/mnt/snaps", "rawdir": "$work/mnt/raw",
           "template": "$work/info.json.template", "manifest": "$work/manifest",
           "base": $(date -u -d 2020-01-01T00:00:00Z +%s)}, open(sys.argv[1], "w"))
PY
python3 - "$work/sspec" <<PY
import json, sys
json.dump({"layout": "snapper", "mnt": "$work/mnt", "src": "$work/mnt/sdata",
           "snapdir": "$work/mnt/sdata/.snapshots", "manifest": "$work/smanifest",
           "base": $(date -u -d 2020-01-01T00:00:00Z +%s)}, open(sys.argv[1], "w"))
PY
mkdir -p "$work/mnt/raw"
date -u -d 2030-01-01T00:00:00Z +%s >"$work/clock"
cat >"$work/pair.sh" <<SCRIPT
#!/bin/sh
t=\$(cat $work/clock); echo \$((t + 3600)) >$work/clock
now=\$(date -u -d "@\$t" +%Y-%m-%dT%H:%M:%SZ)
printf 'VERSION 3\nAPT::Architecture=amd64\n\np 1 all none < 2 all none /x/p.deb\n' |
	$SNAPROTATE -c $conf pkg-pre --tool apt --now \$now >/dev/null
$SNAPROTATE -c $conf pkg-post --tool apt --now \$now >/dev/null
SCRIPT
cat >"$work/raw.sh" <<SCRIPT
#!/bin/sh
t=\$(cat $work/clock); echo \$((t + 3600)) >$work/clock
now=\$(date -u -d "@\$t" +%Y-%m-%dT%H:%M:%SZ)
btrfs subvolume snapshot -r $work/mnt/data $work/mnt/raw/\$t-pre >/dev/null
btrfs subvolume snapshot -r $work/mnt/data $work/mnt/raw/\$t-post >/dev/null
SCRIPT
cat >"$work/snapper.sh" <<SCRIPT
#!/bin/sh
t=\$(cat $work/clock); echo \$((t + 3600)) >$work/clock
now=\$(date -u -d "@\$t" +%Y-%m-%dT%H:%M:%SZ)
n=\$(snapper --no-dbus -c $snapper_cfg create -d apt -c number -t pre -p)
snapper --no-dbus -c $snapper_cfg cleanup number
snapper --no-dbus -c $snapper_cfg create -d apt -c number -t post --pre-number=\$n
snapper --no-dbus -c $snapper_cfg cleanup number
SCRIPT
chmod +x "$work/pair.sh" "$work/raw.sh" "$work/snapper.sh"

printf '| snapshots | pkg-pre + pkg-post (ms) | two raw snapshots (ms) | ratio | snapper apt hook path (ms) |\n'
printf '| ---: | ---: | ---: | ---: | ---: |\n'
for n in $SIZES; do
	python3 "$HELPER" populate "$work/spec" "$n" >/dev/null
	sync
	read -r med min max _ < <(time_cmd "$RUNS" "$work/pair.sh")
	read -r rmed rmin rmax _ < <(time_cmd "$RUNS" "$work/raw.sh")
	snap="-"
	if [ "$SNAPPER" = 1 ]; then
		python3 "$HELPER" populate "$work/sspec" "$n" >/dev/null
		sync
		read -r smed smin smax _ < <(time_cmd "$RUNS" "$work/snapper.sh")
		snap="$smed ($smin–$smax)"
		python3 "$HELPER" reset "$work/sspec" >/dev/null
	fi
	# Back to exactly the populated snapshots: what the timed runs made goes.
	python3 "$HELPER" reset "$work/spec" >/dev/null
	printf '| %d | %s (%s–%s) | %s (%s–%s) | %s | %s |\n' "$n" "$med" "$min" "$max" \
		"$rmed" "$rmin" "$rmax" "$(python3 -c "print(f'{$med / $rmed:.2f}')")" "$snap"
done
