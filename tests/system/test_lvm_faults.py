"""A SIGKILL at every named fault point of the LVM backend (include/base/fault.h), on
real LVM in the VM (tests/vm/run-vm.sh, Linux 6.12, whose LVM can snapshot a frozen
filesystem): snapshot (thick and thin), delete, pin, a frozen group, rollback (a thin
merge), send of block copies to a file:// target and restore from it, with the test
build build/faults/snaprotate as the guest's snaprotate.

The guest traces each operation's points, then per point: starts afresh, kills the
operation there, records what `list` says and the digest of every LV of ours, repairs
(prune, or the operation again) and records again. The checks run here: every
snapshot `list` calls complete has the content of its origin when it was taken,
nothing that existed before is lost, a frozen filesystem is thawed, and the operation
done again succeeds."""
import json
import os
import subprocess

import pytest

from conftest import ROOT
from test_faults import FAULTS, LVM_ONLY

VM = ROOT / "tests" / "vm" / "run-vm.sh"
LIBLVM = "/lib/x86_64-linux-gnu/liblvm2cmd.so.2.03"
KERNEL = os.environ.get("SNAPROTATE_VM_KERNELS", "6.1 6.12").split()[-1]

pytestmark = pytest.mark.skipif(not VM.exists(), reason="needs tests/vm/run-vm.sh")

CONF = """[global]
lock_dir = /run/snaprotate
state_dir = /run/snaprotate/state
freeze_timeout = 20s

[volume thick]
backend = lvm
lv = vg0/thick
snapshot_size = 12M
retain = daily=2
retain_manual = 0

[volume thin]
backend = lvm
lv = vg0/thin
retain = daily=2
retain_manual = 0
targets = backup

[volume other]
backend = lvm
lv = vg0/other
retain = daily=2

[group pair]
volumes = thick other
freeze = yes

[target backup]
url = file:///srv/backup
retain = daily=2
"""

GUEST = r"""
set -uo pipefail
exec 2>&1
export TZ=UTC
pvcreate -q /dev/vda
vgcreate -q vg0 /dev/vda
lvcreate -q -y -L 64M -n thick vg0
lvcreate -q -y -L 300M -T vg0/pool
lvcreate -q -y -V 64M -T vg0/pool -n thin
lvcreate -q -y -L 64M -n other vg0
lvcreate -q -y -L 64M -n r vg0
lvcreate -q -y -L 200M -n backup vg0
mkfs.ext4 -q /dev/vg0/other
mkfs.ext4 -q /dev/vg0/backup
mkdir -p /mnt/other /srv/backup out/f
mount /dev/vg0/other /mnt/other
mount /dev/vg0/backup /srv/backup
cp rotate.conf /etc/rotate.conf
chmod 600 /etc/rotate.conf
SR="snaprotate -c /etc/rotate.conf"
T0=2026-12-01T10:00:00Z T1=2026-12-02T10:00:00Z T2=2026-12-03T10:00:00Z
uname -r > out/kernel

# thick and thin are raw LVs: their content changes only where a round writes it,
# in the first 8 MiB, which is what a digest reads.
dig() { dd if="$1" bs=1M count=8 status=none | sha256sum | cut -c1-16; }
change() { dd if=/dev/urandom of=/dev/vg0/$1 bs=64K count=4 seek=$((RANDOM % 120)) \
	conv=notrunc,fsync status=none; }
ours() { lvs --noheadings -o lv_name @snaprotate 2>/dev/null | tr -d ' '; }
digs() {
	for lv in $(ours); do
		lvchange -q -ay -K vg0/$lv >/dev/null 2>&1
		echo "$lv $(dig /dev/vg0/$lv)"
	done
	for o in thick thin; do echo "origin:$o $(dig /dev/vg0/$o)"; done
}
reset() {
	# The same changes each round (a kill at a block stream's last extent needs as
	# many extents as the trace saw): RANDOM seeded, the offsets repeat.
	RANDOM=1
	lvremove -q -y @snaprotate >/dev/null 2>&1
	rm -rf /srv/backup/thin /run/snaprotate/state
	: > "$W"
}
take() {	# VOLUME TIME: a timeline snapshot, its origin's digest wanted of it
	local n
	n=$($SR snapshot --kind timeline "$1" --now "$2") || { echo "setup: snapshot $1 failed"; exit 1; }
	echo "$n $(dig /dev/vg0/$1)" >> "$W"
	echo "$n"
}
thawed() {	# a write to the group's mounted member completes (the watchdog thawed it)
	timeout 30 dd if=/dev/zero of=/mnt/other/probe bs=4k count=1 conv=fsync status=none \
		&& echo yes || echo no
}

setup_snapshot_thick() { change thick; take thick $T0 >/dev/null; change thick;
	OP="snapshot --kind timeline thick --now $T1"; }
setup_snapshot_thin() { change thin; take thin $T0 >/dev/null; change thin;
	OP="snapshot --kind timeline thin --now $T1"; }
setup_delete() { change thick; A=$(take thick $T0); change thick; take thick $T1 >/dev/null;
	OP="delete thick $A"; }
setup_pin() { change thin; A=$(take thin $T0); OP="pin thin $A"; }
setup_group() { change thick; OP="snapshot --kind timeline pair --now $T0"; }
setup_rollback() { change thin; A=$(take thin $T0); change thin;
	OP="rollback thin $A --now $T1"; }
setup_send() { change thin; take thin $T0 >/dev/null
	$SR send thin >/dev/null || { echo "setup: send failed"; exit 1; }
	change thin; take thin $T1 >/dev/null; OP="send thin"; }
setup_restore() { change thin; take thin $T0 >/dev/null; change thin; A=$(take thin $T1)
	$SR send thin >/dev/null || { echo "setup: send failed"; exit 1; }
	OP="restore thin $A --to vg0/r"; }

repair() {	# what the next run does, then the operation again where it must be redone
	local op=$1
	$SR prune --now $T1 > "$D.repair" 2>&1; echo $? > "$D.repair.rc"
	case $op in
	pin) $SR $OP > "$D.again" 2>&1; echo $? > "$D.again.rc" ;;
	delete) if $SR list --json thick | grep -q "\"$A\""; then $SR $OP > "$D.again" 2>&1; fi
		echo $? > "$D.again.rc" ;;
	rollback) if [ "$(dig /dev/vg0/thin)" != "$(awk -v a="$A" '$1 == a { print $2 }' "$W")" ]; then
			$SR rollback thin "$A" --now $T2 > "$D.again" 2>&1; fi; echo $? > "$D.again.rc" ;;
	send|restore) $SR $OP > "$D.again" 2>&1; echo $? > "$D.again.rc" ;;
	group) $SR snapshot --kind timeline pair --now $T2 > "$D.again" 2>&1; echo $? > "$D.again.rc" ;;
	*) $SR snapshot --kind timeline ${op#snapshot_} --now $T2 > "$D.again" 2>&1
		echo $? > "$D.again.rc" ;;
	esac
	[ "$op" = restore ] && dig /dev/vg0/r > "$D.restored"
	$SR list --json > "$D.final.json"
	$SR list --target backup --json thin > "$D.target.json" 2>/dev/null
	digs > "$D.final.dig"
}

for op in snapshot_thick snapshot_thin delete pin group rollback send restore; do
	W=out/f/$op.want
	reset; setup_$op
	digs > out/f/$op.before.dig
	rm -f /tmp/trace
	SNAPROTATE_FAULT_LOG=/tmp/trace $SR $OP > out/f/$op.trace.out 2>&1
	echo $? > out/f/$op.trace.rc
	touch /tmp/trace
	# Each point once; one passed many times (an extent): the first, second and last.
	awk '{ n[$0]++; seen[NR] = $0 "@" n[$0]; last[$0] = n[$0] }
	     END { for (i = 1; i <= NR; i++) { split(seen[i], p, "@");
	           if (p[2] <= 2 || p[2] == last[p[1]]) print seen[i] } }' /tmp/trace \
		> out/f/$op.points
	k=0
	while read -r point <&3; do
		k=$((k + 1)); D=out/f/$op.$k
		reset; setup_$op
		echo "$point" > "$D.point"
		digs > "$D.before.dig"
		cp "$W" "$D.want"
		SNAPROTATE_FAULT="$point" $SR $OP > "$D.out" 2>&1; echo $? > "$D.rc"
		[ "$op" = group ] && thawed > "$D.thawed"
		$SR list --json > "$D.kill.json"
		digs > "$D.kill.dig"
		repair "$op"
	done 3< out/f/$op.points
done
echo done > out/done
"""


def kv(path):
    out = {}
    for line in path.read_text().splitlines():
        k, v = line.split()
        out[k] = v
    return out


def listed(path, volume):
    for v in json.loads(path.read_text())["volumes"]:
        if v["volume"] == volume:
            return v["snapshots"]
    return []


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    assert FAULTS.exists(), f"{FAULTS} is missing: make faults"
    share = tmp_path_factory.mktemp("lvm-faults")
    (share / "rotate.conf").write_text(CONF)
    (share / "guest.sh").write_text(GUEST)
    r = subprocess.run([str(VM), "--kernel", KERNEL, "--share", str(share), "--bin", str(FAULTS),
                        "--bin", "/usr/bin/sha256sum", "--bin", "/usr/bin/timeout",
                        "--copy", f"{LIBLVM}:{LIBLVM}", "--timeout", "2400", "--",
                        "bash", "./guest.sh"], capture_output=True, text=True)
    assert r.returncode == 0 and (share / "out/done").exists(), \
        r.stdout[-4000:] + r.stderr[-2000:]
    return share / "out" / "f"


OPS = ["snapshot_thick", "snapshot_thin", "delete", "pin", "group", "rollback", "send",
       "restore"]
VOLUME = {"snapshot_thick": "thick", "snapshot_thin": "thin", "delete": "thick", "pin": "thin",
          "group": "thick", "rollback": "thin", "send": "thin", "restore": "thin"}
MUST = {
    "snapshot_thick": {"snapshot.begin", "snapshot.created", "snapshot.done"},
    "snapshot_thin": {"snapshot.begin", "snapshot.created", "snapshot.done"},
    "delete": {"remove.begin", "remove.done"},
    "pin": {"update.begin", "update.done"},
    "group": {"freeze.frozen", "group.taken", "snapshot.done"},
    "rollback": {"snapshot.done", "rollback.begin", "rollback.merged"},
    "send": {"serve:receive.staged", "serve:apply.extent", "serve:receive.received",
             "serve:atomic.written", "serve:receive.committed", "serve:receive.done",
             "send.done", "update.done"},
    "restore": {"apply.extent", "restore.applied"},
}


def rounds(share, op):
    k = 1
    while (share / f"{op}.{k}.point").exists():
        yield k, share / f"{op}.{k}"
        k += 1


@pytest.mark.parametrize("op", OPS)
def test_lvm_kill_at_every_point(guest, op):
    trace_rc = (guest / f"{op}.trace.rc").read_text().strip()
    assert trace_rc == "0", (guest / f"{op}.trace.out").read_text()
    points = (guest / f"{op}.points").read_text().split()
    assert MUST[op] <= {p.split("@")[0] for p in points}, points
    vol = VOLUME[op]
    done = 0
    for k, d in rounds(guest, op):
        p = lambda ext: d.parent / f"{d.name}.{ext}"  # noqa: E731
        point = p("point").read_text().strip()
        why = f"{op}, killed at {point}: {p('out').read_text()[-600:]}"
        rc = int(p("rc").read_text())
        assert rc in (137, 1), why
        want = kv(p("want"))
        before = kv(p("before.dig"))
        # After the kill: whatever list calls complete is whole.
        got = kv(p("kill.dig"))
        for s in listed(p("kill.json"), vol):
            if s["complete"]:
                assert got[s["name"]] == want.get(s["name"], before[f"origin:{vol}"]), \
                    (why, s["name"])
        if op == "group":
            assert p("thawed").read_text().strip() == "yes", why
        # After the repair and the operation again: clean, nothing lost.
        assert p("repair.rc").read_text().strip() == "0", (why, p("repair").read_text())
        assert p("again.rc").read_text().strip() == "0", (why, p("again").read_text())
        final = listed(p("final.json"), vol)
        assert all(s["complete"] for s in final), (why, final)
        names = {s["name"] for s in final}
        lost = set(want) - names
        if op == "delete":
            lost -= {min(want)}
        if op == "rollback":
            lost -= {min(want)}         # a thin merge consumes the snapshot
        assert not lost, (why, lost)
        fdig = kv(p("final.dig"))
        for s in final:
            if s["name"] in want:
                assert fdig[s["name"]] == want[s["name"]], (why, s["name"])
        if op == "rollback":
            assert fdig["origin:thin"] == want[min(want)], why
        if op in ("send", "restore"):
            held = {c["name"] for v in json.loads(p("target.json").read_text())["volumes"]
                    for c in v["snapshots"] if c["complete"]}
            assert held == set(want), (why, held)
        if op == "restore":
            assert p("restored").read_text().strip() == want[max(want)], why
        done += 1
    assert done == len(points)


def test_lvm_points_cover_the_lvm_only_ones(guest):
    seen = set()
    for op in OPS:
        seen |= {p.split("@")[0].split(":")[-1]
                 for p in (guest / f"{op}.points").read_text().split()}
    assert LVM_ONLY <= seen, LVM_ONLY - seen
