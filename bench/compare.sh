#!/bin/bash
# snaprotate against raw btrfs-progs, btrbk and snapper, each on its own fresh
# loop-device btrfs and in its own on-disk format:
#   snapshot, list and run (snapshot + retention) with N existing snapshots,
#   and pruning 1,000 hourly snapshots to daily=7 weekly=4 monthly=6.
# Whole-process wall time (hyperfine, median/min/max of RUNS runs) and peak RSS
# (GNU time, one extra run). The N snapshots are made fast by
# bench/compare-helper.py (the snapshot ioctl in one process, with each tool's
# metadata), never through the tools themselves; each tool's own list must see
# exactly N before anything is timed.
#
# Run as root: bench/compare.sh [path/to/snaprotate] > results.md
# Knobs: RUNS=5 WARMUP=2 SIZES="0 100 1000 10000" PRUNE_N=1000 TOOLS="btrbk snapper"
#        PAIRS=15 (snapshot and list of snaprotate and raw, alternating)
#        POPULATE_BUDGET=600 (seconds per tool to make snapshots; cells past it are skipped)
#        RESULTS_TSV=FILE (keep the raw results)
# Installs btrfs-progs, btrbk, snapper, hyperfine, time and python3 if missing.
# Everything it makes (loop devices, mounts, snapper configs) is removed on exit,
# also on failure or Ctrl-C.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "compare.sh: must run as root (loop devices, btrfs)" >&2
	exit 2
fi
SNAPROTATE_SRC=$(realpath "${1:-./snaprotate}")
[ -x "$SNAPROTATE_SRC" ] || { echo "compare.sh: no executable '$SNAPROTATE_SRC'" >&2; exit 2; }
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-2}
SIZES=${SIZES:-"0 100 1000 10000"}
PRUNE_N=${PRUNE_N:-1000}
PAIRS=${PAIRS:-15}
TOOLS=${TOOLS-"btrbk snapper"}
POPULATE_BUDGET=${POPULATE_BUDGET:-600}
HERE=$(cd "$(dirname "$0")" && pwd)
HELPER="$HERE/compare-helper.py"
export TZ=UTC LC_ALL=C

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- dependencies -------------------------------------------------------------
deps() {
	local missing="" p
	for p in btrfs-progs hyperfine time python3 btrbk snapper; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing \
		>/dev/null 2>&1 || {
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
	}
}
deps

# --- what this run makes, and its removal -------------------------------------
work=$(mktemp -d /tmp/snaprotate-compare.XXXXXX)
LOOPS=()
MOUNTS=()
SNAPPER_CFGS=()
SNAPPER_DEFAULT_SAVED=""

cleanup() {
	local rc=$? i
	set +e
	trap - EXIT INT TERM
	for cfg in "${SNAPPER_CFGS[@]}"; do
		rm -f "/etc/snapper/configs/$cfg"
	done
	if [ -n "$SNAPPER_DEFAULT_SAVED" ]; then
		if [ -e "$work/default-snapper" ]; then
			cp -p "$work/default-snapper" /etc/default/snapper
		else
			rm -f /etc/default/snapper
		fi
	fi
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		if mountpoint -q "${MOUNTS[i]}"; then
			umount "${MOUNTS[i]}" 2>/dev/null || { sleep 1; umount "${MOUNTS[i]}"; } ||
				umount -l "${MOUNTS[i]}"
		fi
	done
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# mkfs_loop NAME: a fresh 8 GiB sparse btrfs at $work/NAME/mnt with subvolume data.
mkfs_loop() {
	local d="$work/fs-$1" loop
	mkdir -p "$d/mnt"
	truncate -s "${BENCH_FS_SIZE:-8G}" "$d/fs.img"
	mkfs.btrfs -q -f "$d/fs.img" >/dev/null 2>&1
	loop=$(losetup --find --show "$d/fs.img")
	LOOPS+=("$loop")
	mount "$loop" "$d/mnt"
	MOUNTS+=("$d/mnt")
	btrfs -q subvolume create "$d/mnt/data"
}

SNAPROTATE="$work/snaprotate"
cp "$SNAPROTATE_SRC" "$SNAPROTATE"
RESULTS="$work/results.tsv"
: >"$RESULTS"
NOTES="$work/notes"
: >"$NOTES"
note() { log "$*"; printf -- '- %s\n' "$*" >>"$NOTES"; }

# record SECTION N TOOL STATUS MEDIAN MIN MAX RSS NOTE
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# measure SECTION N TOOL PREPARE CMD...: hyperfine (no shell) with PREPARE before
# every run, then one run under GNU time for the peak RSS; PREPARE again at the end.
measure() {
	local sec=$1 n=$2 tool=$3 prep=$4
	shift 4
	local json="$work/hf.json" rss
	log "$sec N=$n $tool"
	if ! hyperfine -N -w "$WARMUP" -r "$RUNS" --prepare "$prep" --export-json "$json" \
		-- "$(printf '%q ' "$@")" >"$work/hf.log" 2>&1; then
		tail -n 5 "$work/hf.log" >&2
		note "$sec N=$n $tool failed: $(grep -m1 -i 'error\|non-zero' "$work/hf.log" || true)"
		record "$sec" "$n" "$tool" failed "" "" "" "" "see log"
		bash -c "$prep" || true
		return 0
	fi
	bash -c "$prep"
	/usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/rss.err" || true
	rss=$(tail -n 1 "$work/rss")
	if [ -n "${EXPECT:-}" ]; then
		# Did the command do its job (one new snapshot)?
		local got
		got=$(python3 "$HELPER" count "$EXPECT_SPEC")
		[ "$got" = "$EXPECT" ] || note "$sec N=$n $tool: $got snapshots after one run, expected $EXPECT"
	fi
	bash -c "$prep"
	python3 - "$json" "$sec" "$n" "$tool" "$rss" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("\t".join([sys.argv[2], sys.argv[3], sys.argv[4], "ok", f"{r['median'] * 1000:.2f}",
                 f"{r['min'] * 1000:.2f}", f"{r['max'] * 1000:.2f}", sys.argv[5], ""]))
PY
}

# spec FILE KEY=VALUE...: the JSON that describes a layout to the helper.
spec() {
	local f=$1
	shift
	python3 - "$f" "$@" <<'PY'
import json, sys
d = {}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    d[k] = int(v) if v.lstrip("-").isdigit() else v
json.dump(d, open(sys.argv[1], "w"))
PY
}

# An info.json exactly as `snaprotate snapshot` writes it: the template of the others.
sr_template() { # CONF SNAPDIR OUT
	local name
	name=$("$SNAPROTATE" -c "$1" snapshot --kind timeline data | tail -n 1)
	cp "$2/$name/info.json" "$3"
	"$SNAPROTATE" -c "$1" -q delete data "$name" >/dev/null
	python3 "$HELPER" settle "$(dirname "$2")"
}

sr_conf() { # FILE MNT RETAIN [DELETE_BATCH]
	{
		printf '[global]\nlock_dir = %s\nstate_dir = %s\n\n' "$work/lock" "$work/state"
		printf '[volume data]\nbackend = btrfs\npath = %s/data\nsnapshot_dir = %s/snaps\n' "$2" "$2"
		printf 'retain = %s\n' "$3"
		[ -z "${4:-}" ] || printf 'delete_batch = %s\n' "$4"
	} >"$1"
	chmod 600 "$1"
}

btrbk_conf() { # FILE MNT PRESERVE
	mkdir -p "$2/snaps"
	cat >"$1" <<EOF
timestamp_format long
snapshot_preserve_min latest
snapshot_preserve $3
volume $2
  snapshot_dir snaps
  subvolume data
EOF
}

snapper_conf() { # NAME MNT HOURLY DAILY WEEKLY MONTHLY
	if [ -z "$SNAPPER_DEFAULT_SAVED" ]; then
		[ ! -e /etc/default/snapper ] || cp -p /etc/default/snapper "$work/default-snapper"
		SNAPPER_DEFAULT_SAVED=1
	fi
	if [ -e "/etc/snapper/configs/$1" ]; then
		echo "compare.sh: snapper config $1 exists already" >&2
		exit 1
	fi
	SNAPPER_CFGS+=("$1")
	snapper --no-dbus -c "$1" create-config "$2/data"
	sed -i -e "s/^TIMELINE_CREATE=.*/TIMELINE_CREATE=\"no\"/" \
		-e "s/^TIMELINE_MIN_AGE=.*/TIMELINE_MIN_AGE=\"0\"/" \
		-e "s/^TIMELINE_LIMIT_HOURLY=.*/TIMELINE_LIMIT_HOURLY=\"$3\"/" \
		-e "s/^TIMELINE_LIMIT_DAILY=.*/TIMELINE_LIMIT_DAILY=\"$4\"/" \
		-e "s/^TIMELINE_LIMIT_WEEKLY=.*/TIMELINE_LIMIT_WEEKLY=\"$5\"/" \
		-e "s/^TIMELINE_LIMIT_MONTHLY=.*/TIMELINE_LIMIT_MONTHLY=\"$6\"/" \
		-e "s/^TIMELINE_LIMIT_YEARLY=.*/TIMELINE_LIMIT_YEARLY=\"0\"/" \
		"/etc/snapper/configs/$1"
}

# What each tool's own listing sees.
count_sr() { "$SNAPROTATE" -c "$1" list --json | python3 -c \
	'import json,sys; print(sum(1 for v in json.load(sys.stdin)["volumes"] for s in v["snapshots"] if s["complete"]))'; }
count_btrbk() { btrbk -c "$1" --format=raw list snapshots | grep -c '^format="snapshots"' || true; }
count_snapper() { snapper --no-dbus --csvout -c "$1" list --columns number | awk -F, 'NR > 1 && $1 > 0' | wc -l; }
count_raw() { btrfs subvolume list -o "$1" | grep -c ' path snaps/.*/snapshot$' || true; }

hour_now=$(($(date +%s) / 3600 * 3600))
maxn=0
for n in $SIZES; do ((n > maxn)) && maxn=$n; done
base=$((hour_now - (maxn + 1) * 3600)) # the k-th snapshot: base + k hours, all in the past
keepall="hourly=$((2 * maxn + 100))"

log "snaprotate: $("$SNAPROTATE" --version) ($SNAPROTATE_SRC), work dir $work"

# --- N existing snapshots: snapshot, list, run ---------------------------------
# Per tool: a fresh filesystem; a retention that keeps all of them (so run
# takes a snapshot and plans over N+1 without deleting); PREPARE deletes what a
# timed run made, so every run starts at exactly N with the btrfs cleaner idle.
n_series() { # TOOL
	local tool=$1 fs=$1 mnt specf conf prep have n deadline cnt
	mnt="$work/fs-$fs/mnt"
	mkfs_loop "$fs"
	specf="$work/$fs.spec"
	case $tool in
	snaprotate)
		conf="$work/sr-n.conf"
		sr_conf "$conf" "$mnt" "$keepall"
		sr_template "$conf" "$mnt/snaps" "$work/info.json.template"
		spec "$specf" layout=sr vol=data mnt="$mnt" src="$mnt/data" snapdir="$mnt/snaps" \
			rawdir="$mnt/raw" template="$work/info.json.template" manifest="$work/$fs.manifest" \
			base="$base"
		mkdir -p "$mnt/raw"
		;;
	btrbk)
		conf="$work/btrbk-n.conf"
		btrbk_conf "$conf" "$mnt" "$((2 * maxn + 100))h"
		spec "$specf" layout=btrbk name=data mnt="$mnt" src="$mnt/data" snapdir="$mnt/snaps" \
			manifest="$work/$fs.manifest" base="$base"
		;;
	snapper)
		conf="srbench$$n"
		snapper_conf "$conf" "$mnt" "$((2 * maxn + 100))" 0 0 0
		spec "$specf" layout=snapper mnt="$mnt" src="$mnt/data" snapdir="$mnt/data/.snapshots" \
			manifest="$work/$fs.manifest" base="$base"
		;;
	esac
	prep="python3 $(printf '%q' "$HELPER") reset $(printf '%q' "$specf")"
	deadline=$(($(date +%s) + POPULATE_BUDGET))
	for n in $SIZES; do
		local t0=$SECONDS
		POPULATE_DEADLINE=$deadline python3 "$HELPER" populate "$specf" "$n"
		bash -c "$prep"
		have=$(python3 "$HELPER" count "$specf")
		if ((have < n)); then
			note "$tool: made only $have of $n snapshots within POPULATE_BUDGET=${POPULATE_BUDGET}s; N=$n skipped"
			for sec in snapshot list run; do
				record "$sec" "$n" "$tool" skipped "" "" "" "" "populating $n too slow"
			done
			break
		fi
		case $tool in
		snaprotate) cnt=$(count_sr "$conf") ;;
		btrbk) cnt=$(count_btrbk "$conf") ;;
		snapper) cnt=$(count_snapper "$conf") ;;
		esac
		log "$tool N=$n: populated in $((SECONDS - t0)) s, its own list sees $cnt"
		if [ "$cnt" != "$n" ]; then
			note "$tool N=$n: its list sees $cnt snapshots, not $n; cells not timed"
			for sec in snapshot list run; do
				record "$sec" "$n" "$tool" "wrong count" "" "" "" "" "list sees $cnt"
			done
			continue
		fi
		case $tool in
		snaprotate)
			cnt=$(count_raw "$mnt")
			[ "$cnt" = "$n" ] || note "raw list sees $cnt snapshots at N=$n"
			measure snapshot "$n" raw "$prep" btrfs subvolume snapshot -r "$mnt/data" "$mnt/raw/s"
			EXPECT=$((n + 1)) EXPECT_SPEC=$specf measure snapshot "$n" snaprotate "$prep" "$SNAPROTATE" -c "$conf" snapshot --kind timeline data
			measure list "$n" raw "$prep" btrfs subvolume list -o "$mnt"
			measure list "$n" snaprotate "$prep" "$SNAPROTATE" -c "$conf" list
			# The same two comparisons again, alternating, against load that comes and goes.
			log "snapshot and list N=$n: raw and snaprotate alternating, $PAIRS pairs"
			python3 "$HELPER" paired "$specf" snapshot "$n" "$PAIRS" \
				btrfs subvolume snapshot -r "$mnt/data" "$mnt/raw/s" ::: \
				"$SNAPROTATE" -c "$conf" snapshot --kind timeline data >>"$RESULTS"
			python3 "$HELPER" paired "$specf" list "$n" "$PAIRS" \
				btrfs subvolume list -o "$mnt" ::: "$SNAPROTATE" -c "$conf" list >>"$RESULTS"
			EXPECT=$((n + 1)) EXPECT_SPEC=$specf measure run "$n" snaprotate "$prep" "$SNAPROTATE" -c "$conf" run data
			;;
		btrbk)
			EXPECT=$((n + 1)) EXPECT_SPEC=$specf measure snapshot "$n" btrbk "$prep" btrbk -c "$conf" snapshot
			measure list "$n" btrbk "$prep" btrbk -c "$conf" list snapshots
			EXPECT=$((n + 1)) EXPECT_SPEC=$specf measure run "$n" btrbk "$prep" btrbk -c "$conf" run
			;;
		snapper)
			EXPECT=$((n + 1)) EXPECT_SPEC=$specf measure snapshot "$n" snapper "$prep" snapper --no-dbus -c "$conf" create \
				--cleanup-algorithm timeline --description timeline
			measure list "$n" snapper "$prep" snapper --no-dbus -c "$conf" list
			# Two commands: through one sh (about 1 ms more).
			EXPECT=$((n + 1)) EXPECT_SPEC=$specf measure run "$n" snapper "$prep" sh -c "snapper --no-dbus -c $conf create --cleanup-algorithm timeline --description timeline && snapper --no-dbus -c $conf cleanup timeline"
			;;
		esac
	done
}

# --- prune PRUNE_N hourly snapshots to daily=7 weekly=4 monthly=6 --------------
# PREPARE records what the previous run left, deletes everything, waits for the
# btrfs cleaner and makes PRUNE_N fresh hourly snapshots (the newest an hour old).
prune_series() { # TOOL
	local tool=$1 fs="p-$1" mnt specf conf prep pbase=$((hour_now - PRUNE_N * 3600)) left
	mnt="$work/fs-$fs/mnt"
	mkfs_loop "$fs"
	specf="$work/$fs.spec"
	case $tool in
	snaprotate)
		sr_conf "$work/sr-p0.conf" "$mnt" "daily=7 weekly=4 monthly=6" 0
		sr_conf "$work/sr-p8.conf" "$mnt" "daily=7 weekly=4 monthly=6"
		"$SNAPROTATE" -c "$work/sr-p8.conf" config-check | grep -q '^delete_batch = 8$' ||
			note "snaprotate: the default delete_batch is not 8 any more"
		[ -e "$work/info.json.template" ] ||
			sr_template "$work/sr-p0.conf" "$mnt/snaps" "$work/info.json.template"
		spec "$specf" layout=sr vol=data mnt="$mnt" src="$mnt/data" snapdir="$mnt/snaps" \
			template="$work/info.json.template" manifest="$work/$fs.manifest" base="$pbase"
		;;
	btrbk)
		conf="$work/btrbk-p.conf"
		btrbk_conf "$conf" "$mnt" "7d 4w 6m"
		spec "$specf" layout=btrbk name=data mnt="$mnt" src="$mnt/data" snapdir="$mnt/snaps" \
			manifest="$work/$fs.manifest" base="$pbase"
		;;
	snapper)
		conf="srbench$$p"
		snapper_conf "$conf" "$mnt" 0 7 4 6
		spec "$specf" layout=snapper mnt="$mnt" src="$mnt/data" snapdir="$mnt/data/.snapshots" \
			manifest="$work/$fs.manifest" base="$pbase"
		;;
	esac
	cat >"$work/$fs.prep" <<EOF
set -e
if [ -s $(printf '%q' "$work/$fs.manifest") ]; then
	python3 $(printf '%q' "$HELPER") count $(printf '%q' "$specf") >>$(printf '%q' "$work/$fs.left")
fi
python3 $(printf '%q' "$HELPER") clear $(printf '%q' "$specf")
python3 $(printf '%q' "$HELPER") populate $(printf '%q' "$specf") $PRUNE_N 2>/dev/null
EOF
	prep="bash $(printf '%q' "$work/$fs.prep")"
	# prune_one TOOLKEY CMD...: RUNS timed runs (no warm-up: each one needs fresh snapshots).
	prune_one() {
		local key=$1 sv_warmup=$WARMUP
		shift
		: >"$work/$fs.left"
		python3 "$HELPER" clear "$specf"
		WARMUP=0
		measure prune "$PRUNE_N" "$key" "$prep" "$@"
		WARMUP=$sv_warmup
		# measure ran PREPARE once more after the RSS run: that recorded its result too.
		left=$(tr '\n' ' ' <"$work/$fs.left" | sed 's/ $//')
		sed -i "\$s/\t\$/\tleft: $left/" "$RESULTS"
	}
	case $tool in
	snaprotate)
		local plan="$work/$fs.plan.json" cnt
		bash -c "$prep"
		: >"$work/$fs.left"
		cnt=$(count_sr "$work/sr-p0.conf")
		[ "$cnt" = "$PRUNE_N" ] || note "snaprotate prune: its list sees $cnt, not $PRUNE_N"
		"$SNAPROTATE" -c "$work/sr-p0.conf" --json --dry-run prune data >"$plan"
		python3 "$HELPER" paths "$specf" "$plan" >"$work/$fs.paths"
		python3 "$HELPER" names "$specf" "$plan" >"$work/$fs.keep"
		log "snaprotate's plan: delete $(wc -l <"$work/$fs.paths"), keep $(wc -l <"$work/$fs.keep")"
		# The floor: btrfs-progs deleting exactly the snapshots snaprotate deletes.
		mapfile -t paths <"$work/$fs.paths"
		prune_one raw btrfs subvolume delete "${paths[@]}"
		prune_one snaprotate0 "$SNAPROTATE" -c "$work/sr-p0.conf" prune data
		# Is what it kept exactly its plan? (the state the last run left)
		bash -c "$prep"
		"$SNAPROTATE" -c "$work/sr-p0.conf" prune data >/dev/null
		if ! python3 "$HELPER" present "$specf" | cmp -s - "$work/$fs.keep"; then
			note "snaprotate prune kept a different set than its own --dry-run plan"
		fi
		prune_one snaprotate8 "$SNAPROTATE" -c "$work/sr-p8.conf" prune data
		;;
	btrbk)
		bash -c "$prep"
		cnt=$(count_btrbk "$conf")
		[ "$cnt" = "$PRUNE_N" ] || note "btrbk prune: its list sees $cnt, not $PRUNE_N"
		prune_one btrbk btrbk -c "$conf" prune
		;;
	snapper)
		bash -c "$prep"
		cnt=$(count_snapper "$conf")
		[ "$cnt" = "$PRUNE_N" ] || note "snapper prune: its list sees $cnt, not $PRUNE_N"
		prune_one snapper snapper --no-dbus -c "$conf" cleanup timeline
		;;
	esac
	python3 "$HELPER" clear "$specf"
}

start=$SECONDS
n_series snaprotate
for t in $TOOLS; do n_series "$t"; done
prune_series snaprotate
for t in $TOOLS; do prune_series "$t"; done
log "done in $((SECONDS - start)) s"

# --- report -------------------------------------------------------------------
echo "Measured $(date -u +%Y-%m-%d) on $(uname -r), $(nproc) CPUs; $("$SNAPROTATE" --version)," \
	"btrfs-progs $(dpkg-query -W -f='${Version}' btrfs-progs), btrbk $(dpkg-query -W -f='${Version}' btrbk)," \
	"snapper $(dpkg-query -W -f='${Version}' snapper); whole script $(((SECONDS - start) / 60)) min."
echo
python3 "$HELPER" report "$RESULTS" "$RUNS"
if [ -s "$NOTES" ]; then
	echo "Notes from this run:"
	echo
	cat "$NOTES"
fi
[ -z "${RESULTS_TSV:-}" ] || cp "$RESULTS" "$RESULTS_TSV"
