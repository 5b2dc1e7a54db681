#!/bin/bash
# Incremental send throughput: snaprotate and btrbk against the raw pipelines
#   btrfs send -p P S | btrfs receive D                 (local)
#   btrfs send -p P S | ssh HOST btrfs receive D        (ssh to 127.0.0.1)
# for two changes: 1 GiB in 1,024 files, and 20,000 files of 4 KiB.
# Each timed run receives the same incremental stream into a target that holds
# the parent; raw, snaprotate and btrbk run alternately (one round = one run of
# each), and between any two runs, untimed and the same for every tool: sync
# (the run's data is written back now, not during the next run), the received
# copy deleted, the btrfs cleaner waited for, sync again.
# Run as root: bench/send.sh [path/to/snaprotate]
# Knobs: RUNS=5 (rounds), TOOLS="btrbk" (empty: raw and snaprotate only),
# DROP_CACHES=0 (1: also drop the page cache between runs, so that every run
# reads its source cold), RESULTS_TSV=FILE (keep the raw numbers, written as
# the runs go).
set -euo pipefail

SNAPROTATE=$(realpath "${1:-./snaprotate}")
RUNS=${RUNS:-5}
TOOLS=${TOOLS-btrbk}
DROP_CACHES=${DROP_CACHES:-0}
work=$(mktemp -d /tmp/snaprotate-bench-send.XXXXXX)
loops=()
sshd_pid=""
tsv=${RESULTS_TSV:-$work/results.tsv}	# written as the runs go, so partial runs keep their numbers
: >"$tsv"

# Also on failure or Ctrl-C; a mount still busy (a dying `btrfs receive`) is detached lazily.
cleanup() {
	local rc=$? m l
	set +e
	trap - EXIT INT TERM
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
	for m in "$work/src" "$work/dst"; do
		mountpoint -q "$m" || continue
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	for l in "${loops[@]}"; do
		losetup -d "$l"
	done
	rm -rf --one-file-system "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pkgs="openssh-server openssh-client btrfs-progs python3"
case " $TOOLS " in *" btrbk "*) pkgs="$pkgs btrbk" ;; esac
for p in $pkgs; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		apt-get install -y -q "$p" >/dev/null
done
has_btrbk() { case " $TOOLS " in *" btrbk "*) return 0 ;; esac; return 1; }

. "$(dirname "$0")/lib.sh"
bench_mkfs_mount src 6G
bench_mkfs_mount dst 8G
btrfs -q subvolume create "$work/src/data"
mkdir -p "$work/dst/raw" "$work/dst/sr" "$work/dst/btrbk"

# sshd on loopback: one key pinned to `snaprotate serve`, one free for the raw pipeline.
bench_sshd "$work" "$SNAPROTATE" "$work/dst/sr"
SSH=(ssh -p "$port" -i "$work/raw_key" "${SSH_OPTS[@]}" root@127.0.0.1)
sessions() { grep -c 'Accepted publickey' "$work/sshd.log" || true; }

# btrbk has no setting for ssh options: it runs `ssh` from PATH, so a wrapper
# first on its PATH adds the same options the raw pipeline uses.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec /usr/bin/ssh %s "$@"\n' "${SSH_OPTS[*]}" >"$work/bin/ssh"
chmod +x "$work/bin/ssh"

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
ssh_options = ${SSH_OPTS[*]}"

# btrbk: its own snapshot directory per change (btrbk-NAME, holding its P and S)
# and target directory per change; it keeps everything (no retention to do).
bconf="$work/btrbk.conf"
write_btrbk_conf() { # NAME TARGET
	cat >"$bconf" <<EOF
timestamp_format long
snapshot_preserve_min all
target_preserve_min all
ssh_identity $work/raw_key
ssh_user root
volume $work/src
  snapshot_dir btrbk-$1
  subvolume data
    target send-receive $2
EOF
}
btrbk_cmd() { PATH="$work/bin:$PATH" btrbk -c "$bconf" "$@"; }

sr() { "$SNAPROTATE" -c "$conf" -q "$@"; }
# uuid_of PATH "UUID"|"Parent UUID"|"Received UUID"
uuid_of() {
	btrfs subvolume show "$1" |
		awk -F: -v k="$2" '{ gsub(/^[ \t]+|[ \t]+$/, "", $1); gsub(/[ \t]/, "", $2) } $1 == k { print $2 }'
}

# The copy $1 must be an incremental receive of the source snapshot $3 on top
# of a copy of its parent $2: received_uuid = UUID of $3, and parent_uuid = UUID
# of a subvolume of the target whose received_uuid is $2's UUID (btrfs receive
# takes any copy of the parent there; a full receive has no parent_uuid).
check_incremental() {
	local got_r got_p want_r want_p base_of
	got_r=$(uuid_of "$1" "Received UUID")
	got_p=$(uuid_of "$1" "Parent UUID")
	want_r=$(uuid_of "$3" UUID)
	want_p=$(uuid_of "$2" UUID)
	base_of=$(btrfs subvolume list -u -R "$work/dst" | awk -v u="$got_p" '
		{ for (i = 1; i < NF; i++) { if ($i == "received_uuid") r = $(i + 1); if ($i == "uuid") id = $(i + 1) } }
		id == u { print r }')
	if [ "$got_r" != "$want_r" ] || [ "$base_of" != "$want_p" ]; then
		echo "send.sh: $1 is not an incremental copy of $3 on a copy of $2" \
			"(received_uuid $got_r, want $want_r; its parent $got_p is a copy of '$base_of'," \
			"want $want_p)" >&2
		exit 1
	fi
}

# Between any two runs, untimed, the same for every tool.
settle() {
	sync
	btrfs subvolume sync "$work/dst" >/dev/null
	sync
	if [ "$DROP_CACHES" = 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}

# One timed run: TOOL MODE; appends "TOOL MODE seconds sessions" to $tsv.
# The received copy is checked and deleted afterwards.
one_run() {
	local tool=$1 mode=$2 t0 t1 s0 s1 copy
	s0=$(sessions)
	case "$tool" in
	raw)
		mkdir -p "$work/dst/raw/$name/child"
		t0=$EPOCHREALTIME
		if [ "$mode" = local ]; then
			btrfs send -q -p "$P" "$S" | btrfs receive -q "$work/dst/raw/$name/child"
		else
			btrfs send -q -p "$P" "$S" |
				"${SSH[@]}" btrfs receive -q "$work/dst/raw/$name/child"
		fi
		t1=$EPOCHREALTIME
		copy="$work/dst/raw/$name/child/snapshot"
		check_incremental "$copy" "$P" "$S"
		;;
	snaprotate)
		t0=$EPOCHREALTIME
		sr send data
		t1=$EPOCHREALTIME
		copy="$work/dst/sr/data/$next/snapshot"
		check_incremental "$copy" "$P" "$S"
		;;
	btrbk)
		t0=$EPOCHREALTIME
		btrbk_cmd -q resume
		t1=$EPOCHREALTIME
		copy="$work/dst/btrbk/$name/$bnext"
		check_incremental "$copy" "$work/src/btrbk-$name/$bbase" "$BS"
		;;
	esac
	s1=$(sessions)
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$tool" \
		"$(python3 -c "print($t1 - $t0)")" "$((s1 - s0))" >>"$tsv"
	btrfs -q subvolume delete "$copy"
	[ "$tool" != snaprotate ] || rm -rf "$work/dst/sr/data/$next"
	settle
}

# One case: NAME, a function that makes the change, an hour digit for the stamps.
bench_case() {
	local mode i tool tools=(raw snaprotate)
	name=$1
	base="data.20261101T0${3}0000Z" next="data.20261101T0${3}3000Z"
	bbase="data.20261101T0${3}00" bnext="data.20261101T0${3}30"
	has_btrbk && tools+=(btrbk)

	write_conf "$LOCAL_URL"
	sr snapshot --kind timeline data --now "2026-11-01T0${3}:00:00Z" >/dev/null
	P="$work/src/snaps/$base/snapshot" S="$work/src/snaps/$next/snapshot"
	sr send data			# the parent, untimed
	mkdir -p "$work/dst/raw/$name/parent"
	btrfs send -q "$P" | btrfs receive -q "$work/dst/raw/$name/parent"
	if has_btrbk; then
		# btrbk's own P and S: read-only snapshots of snaprotate's, so the
		# incremental stream is the same P -> S difference.
		mkdir -p "$work/src/btrbk-$name" "$work/dst/btrbk/$name"
		btrfs -q subvolume snapshot -r "$P" "$work/src/btrbk-$name/$bbase"
		write_btrbk_conf "$name" "$work/dst/btrbk/$name"
		btrbk_cmd -q resume	# the parent, untimed
	fi
	"$2"
	sync
	sr snapshot --kind timeline data --now "2026-11-01T0${3}:30:00Z" >/dev/null
	# Reading each stream once also brings every tool's source into the page cache.
	bytes=$(btrfs send -q -p "$P" "$S" | wc -c)
	if has_btrbk; then
		btrfs -q subvolume snapshot -r "$S" "$work/src/btrbk-$name/$bnext"
		BS="$work/src/btrbk-$name/$bnext"
		bbytes=$(btrfs send -q -p "$work/src/btrbk-$name/$bbase" "$BS" | wc -c)
		[ "$bbytes" -ge $((bytes * 99 / 100)) ] && [ "$bbytes" -le $((bytes * 101 / 100)) ] ||
			{ echo "send.sh: btrbk's stream is $bbytes bytes, raw's $bytes" >&2; exit 1; }
	fi
	printf '%s\tbytes\t%s\n' "$name" "$bytes" >>"$tsv"
	settle
	for mode in local ssh; do
		echo "send.sh: $name, $mode: $RUNS rounds of ${tools[*]}" >&2
		if [ "$mode" = local ]; then
			write_conf "$LOCAL_URL"
			! has_btrbk || write_btrbk_conf "$name" "$work/dst/btrbk/$name"
		else
			write_conf "$SSH_URL"
			! has_btrbk || write_btrbk_conf "$name" "ssh://127.0.0.1:$port$work/dst/btrbk/$name"
		fi
		for ((i = 0; i < RUNS; i++)); do
			for tool in "${tools[@]}"; do
				one_run "$tool" "$mode"
			done
		done
	done
}

report() {
	python3 - "$tsv" "$RUNS" <<'PY'
import statistics, sys
from collections import defaultdict

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
nbytes = {r[0]: int(r[2]) for r in rows if r[1] == "bytes"}
t = defaultdict(list)
sess = defaultdict(list)
for r in rows:
    if r[1] != "bytes":
        t[r[0], r[1], r[2]].append(float(r[3]))
        sess[r[0], r[1], r[2]].append(int(r[4]))

def q(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return xs[0], xs[0]
    qs = statistics.quantiles(xs, n=4, method="inclusive")
    return qs[0], qs[2]

def speed(mib, xs):
    xs = sorted(xs)
    return f"{mib / statistics.median(xs):.1f} ({mib / xs[-1]:.1f}–{mib / xs[0]:.1f})"

def ratio(raw, other):
    # per round: raw's time / the tool's time = the tool's throughput / raw's
    rs = [a / b for a, b in zip(raw, other)]
    lo, hi = q(rs)
    return f"{statistics.median(rs):.2f} ({lo:.2f}–{hi:.2f})"

def ssh(k):
    s = sorted(set(sess[k]))
    return "/".join(map(str, s))

has_btrbk = any(k[2] == "btrbk" for k in t)
head = ("| change | target | stream MiB | raw pipeline MiB/s | snaprotate MiB/s "
        "| snaprotate / raw | ")
sep = "| --- | --- | ---: | ---: | ---: | ---: | "
if has_btrbk:
    head += "btrbk MiB/s | btrbk / raw | "
    sep += "---: | ---: | "
head += "ssh sessions per run (raw / snaprotate" + (" / btrbk) |" if has_btrbk else ") |")
sep += "---: |"
print(head)
print(sep)
for name in nbytes:
    mib = nbytes[name] / 2**20
    for mode in ("local", "ssh"):
        raw, ours = t[name, mode, "raw"], t[name, mode, "snaprotate"]
        if not raw:
            continue
        line = (f"| {name} | {mode} | {mib:.0f} | {speed(mib, raw)} | {speed(mib, ours)} "
                f"| {ratio(raw, ours)} | ")
        s = [ssh((name, mode, "raw")), ssh((name, mode, "snaprotate"))]
        if has_btrbk:
            b = t[name, mode, "btrbk"]
            line += f"{speed(mib, b)} | {ratio(raw, b)} | "
            s.append(ssh((name, mode, "btrbk")))
        line += " / ".join(s) + " |"
        print(line)
print()
print(f"MiB/s: stream size over whole-process wall time, median (min–max) of {sys.argv[2]} "
      "rounds; ratios: median (interquartile range) of the per-round ratios of "
      "throughput (raw's time / the tool's time, from the same round).")
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

bench_case big big_change 1
bench_case small small_change 2
report
echo
echo "Measured $(date -u +%F) on $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg);" \
	"btrfs-progs $(dpkg-query -W -f='${Version}' btrfs-progs)$(has_btrbk &&
		echo ", btrbk $(dpkg-query -W -f='${Version}' btrbk)"); DROP_CACHES=$DROP_CACHES."
