"""The LVM backend on real LVM: Debian's kernel booted under QEMU by
tests/vm/run-vm.sh (this machine's kernel has no device-mapper). The test
writes a bash script for the guest, the guest runs the real binary against
real thick and thin LVs and leaves its outputs in a shared directory, and the
checks run here, against the same independent model as the btrfs tests."""
import json
import os
import random
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest

from conftest import BINARY, PROMTOOL, ROOT
from model import Snap, due, expected_keep, iso, stamp

VM = ROOT / "tests" / "vm" / "run-vm.sh"
FREEZE_TOOL = ROOT / "build" / "tests" / "freeze-tool"
LIBLVM = "/lib/x86_64-linux-gnu/liblvm2cmd.so.2.03"
KERNELS = os.environ.get("SNAPROTATE_VM_KERNELS", "6.1 6.12").split()
TZ = "UTC"

pytestmark = pytest.mark.skipif(not VM.exists(), reason="needs tests/vm/run-vm.sh")

SETUP = r"""
set -euo pipefail
exec 2>&1
export TZ=UTC
pvcreate -q /dev/vda
vgcreate -q vg0 /dev/vda
lvcreate -q -y -L 64M -n thick vg0
lvcreate -q -y -L 300M -T vg0/pool
lvcreate -q -y -V 128M -T vg0/pool -n thin
lvcreate -q -y -L 64M -n other vg0
for lv in thick thin other; do
	mkfs.ext4 -q /dev/vg0/$lv
	mkdir -p /mnt/$lv
	mount /dev/vg0/$lv /mnt/$lv
done
mkdir -p out
cp rotate.conf /etc/rotate.conf
chmod 600 /etc/rotate.conf
SR="snaprotate -c /etc/rotate.conf"
"""

CONF = """[global]
lock_dir = /run/snaprotate
state_dir = /run/snaprotate/state
freeze_timeout = 20s

[volume thick]
backend = lvm
lv = vg0/thick
snapshot_size = 12M
retain = hourly=3 daily=3 weekly=1
retain_manual = 2

[volume thin]
backend = lvm
lv = vg0/thin
retain = daily=4
interval = 8h

[volume other]
backend = lvm
lv = vg0/other
retain = daily=2

[group pair]
volumes = thin other
freeze = yes
"""

POLICIES = {
    "thick": ({"hourly": 3, "daily": 3, "weekly": 1, "manual": 2}, 0),
    "thin": ({"daily": 4}, 8 * 3600),
    "other": ({"daily": 2}, 0),
}


# Everything after the rotation, in the same boot. Digests are of the file tree.
HEALTH = r"""
# The digest of a file tree; the per-file sums are kept in out/digests.txt.
digest() { (cd "$1" && find . -path ./lost+found -prune -o -type f -print0 | sort -z |
	xargs -0 sha256sum) | tee -a out/digests.txt | sha256sum | cut -d' ' -f1; }
mountsnap() {  # VG/LV MOUNTPOINT: a snapshot, read-only, without replaying its journal
	# thin snapshots are created inactive (activation skip); thick ones are active
	[ "$(lvs --noheadings -o lv_active "$1" | tr -d ' ')" = active ] || lvchange -q -ay -K "$1"
	mkdir -p "$2"
	mount -o ro,noload "/dev/$1" "$2"
}
# --- a writer keeps one counter in both members; every group snapshot catches it.
# It writes in the order snaprotate freezes (members by name), each value with one
# write() into the file in place, so a snapshot never sees a half-written value.
(i=0; while :; do i=$((i + 1))
	printf '%010d\n' $i 1<> /mnt/other/counter; printf '%010d\n' $i 1<> /mnt/thin/counter
done) &
writer=$!
for round in 1 2 3; do
	$SR snapshot pair --now 2026-11-22T0${round}:00:00Z > /dev/null 2>> out/counter.err ||
		echo "round $round failed" >> out/counter.err
	for v in thin other; do
		mountsnap vg0/$v.20261122T0${round}0000Z /mnt/snap
		echo "$round $v $((10#$(cat /mnt/snap/counter)))" >> out/counters.txt
		umount /mnt/snap
	done
done
kill $writer; wait $writer || true

# --- SIGKILL while both members are frozen: the watchdog thaws them (freeze_timeout 20 s)
# FIFREEZE of a frozen filesystem fails with EBUSY at once; a probe that did freeze thaws.
frozen() { if fsfreeze -f "$1" 2> /dev/null; then fsfreeze -u "$1"; return 1; fi; }
coproc FT { exec freeze-tool 20 /mnt/thin /mnt/other; }
read -r line <&"${FT[0]}"
echo "$line" > out/freeze.txt
for m in /mnt/thin /mnt/other; do frozen $m && echo "frozen $m" >> out/freeze.txt; done
start=$(date +%s)
kill -9 $FT_PID
for m in /mnt/thin /mnt/other; do
	until ! frozen $m; do [ $(( $(date +%s) - start )) -lt 40 ] || break; done
	frozen $m || echo "thawed $m $(( $(date +%s) - start ))" >> out/freeze.txt
done

# --- a thin pool at its threshold refuses the snapshot
dd if=/dev/urandom of=/mnt/thin/fill bs=1M count=40 conv=fsync status=none
sed 's/^lv = vg0\/thin$/lv = vg0\/thin\nthin_pool_max = 10%/' /etc/rotate.conf > /etc/full.conf
chmod 600 /etc/full.conf
before=$(lvs --noheadings -o lv_name vg0 | wc -l)
if snaprotate -c /etc/full.conf snapshot thin --now 2026-11-23T00:00:00Z 2> out/full.err; then
	echo "snapshot taken" > out/full.fail
fi
after=$(lvs --noheadings -o lv_name vg0 | wc -l)
echo "$before $after" > out/full.count
rm /mnt/thin/fill

# --- a VG or LV that does not exist: LVM's own words, once, naming the volume
printf '[global]\nlock_dir = /run/sr-missing\n[volume novg]\nbackend = lvm\nlv = nosuch/data\n[volume nolv]\nbackend = lvm\nlv = vg0/nosuch\n' > /etc/missing.conf
chmod 600 /etc/missing.conf
snaprotate -c /etc/missing.conf list novg 2> out/missing-vg.err || echo $? > out/missing-vg.rc
snaprotate -c /etc/missing.conf list nolv 2> out/missing-lv.err || echo $? > out/missing-lv.rc

# --- rollback, thick, origin mounted: merged at the next activation
echo one > /mnt/thick/state; mkdir -p /mnt/thick/tree; cp -a /etc /mnt/thick/tree/; sync
digest /mnt/thick > out/thick.want
$SR snapshot thick --description good --now 2026-11-24T00:00:00Z
echo two > /mnt/thick/state; rm -rf /mnt/thick/tree/etc/lvm; sync
digest /mnt/thick > out/thick.changed
$SR rollback --dry-run thick 20261124T00 > out/rb-thick-dry.txt
$SR rollback --json thick 20261124T00 --now 2026-11-24T01:00:00Z > out/rb-thick.json
$SR list --json thick > out/rb-thick-list.json
$SR status --json thick > out/rb-thick-status.json || true
$SR status thick > out/rb-thick-status.txt || true
$SR snapshot thick --now 2026-11-24T02:00:00Z 2> out/rb-thick-refused.err && echo taken > out/rb-thick-refused.fail
umount /mnt/thick
lvchange -an vg0/thick
lvchange -ay vg0/thick
# what lvmpolld does on a real system once the merge has started (the guest runs none)
lvm lvpoll --polloperation merge --interval 1 vg0/thick.20261124T000000Z
$SR status --json thick > out/rb-thick-status-after.json || true
mount /dev/vg0/thick /mnt/thick
digest /mnt/thick > out/thick.got
mountsnap vg0/thick.20261124T010000Z /mnt/snap
digest /mnt/snap > out/thick.saved
umount /mnt/snap

# --- rollback, thin, origin not open: merged at once
echo one > /mnt/thin/state; mkdir -p /mnt/thin/tree; cp -a /etc /mnt/thin/tree/; sync
digest /mnt/thin > out/thin.want
$SR snapshot thin --now 2026-11-25T00:00:00Z
echo two > /mnt/thin/state; rm -rf /mnt/thin/tree/etc/lvm; sync
$SR list --json thin > out/rb-thin-before.json
umount /mnt/thin
$SR rollback --json thin 20261125T00 --now 2026-11-25T01:00:00Z > out/rb-thin.json
$SR list --json thin > out/rb-thin-after.json
lvs --noheadings -o lv_tags vg0/thin > out/rb-thin-tags.txt
mount /dev/vg0/thin /mnt/thin
digest /mnt/thin > out/thin.got

# --- rescue mode: no config, the volumes of vg0 from their snapshots' tags
snaprotate --vg vg0 list --json > out/rescue-vg.json
snaprotate --vg vg0 config-check > out/rescue-vg.conf

# --- sending: thin incrementally (thin_delta), thick as a sparse full image, to a
# file:// target on ext4; then restore into new LVs, thin and linear
lvcreate -q -y -L 400M -n backup vg0
mkfs.ext4 -q /dev/vg0/backup
mkdir -p /srv/backup
mount /dev/vg0/backup /srv/backup
cat > /etc/send.conf <<CONF
[global]
lock_dir = /run/snaprotate
state_dir = /run/snaprotate/state

[volume thin]
backend = lvm
lv = vg0/thin
retain = daily=7
targets = backup

[volume other]
backend = lvm
lv = vg0/other
retain = daily=7
targets = backup

[target backup]
url = file:///srv/backup
retain = daily=1
CONF
chmod 600 /etc/send.conf
S2="snaprotate -c /etc/send.conf"
dd if=/dev/urandom of=/mnt/thin/base bs=1M count=8 conv=fsync status=none
$S2 snapshot thin --now 2026-11-27T00:00:00Z
$S2 send --json thin --now 2026-11-27T00:00:10Z > out/send1.json
dd if=/dev/urandom of=/mnt/thin/change bs=1M count=3 conv=fsync status=none
$S2 snapshot thin --now 2026-11-28T00:00:00Z
$S2 send --json thin --now 2026-11-28T00:00:10Z > out/send2.json
dd if=/dev/urandom of=/mnt/thin/change2 bs=1M count=1 conv=fsync status=none
# the timer job: takes the (timeline) snapshot thin.20261129T000000Z, sends, prunes
$S2 run --json thin --now 2026-11-29T00:00:00Z > out/send3.json
(cd /srv/backup && find thin other -type f | sort) > out/target-files.txt 2>&1 || true
lvchange -q -ay -K vg0/thin.20261129T000000Z
sha256sum < /dev/vg0/thin.20261129T000000Z | cut -d' ' -f1 > out/dev.want
lvcreate -q -y -V 128M -T vg0/pool -n restored
$S2 restore --json thin 20261129 --to vg0/restored > out/restore.json
sha256sum < /dev/vg0/restored | cut -d' ' -f1 > out/dev.thin
lvcreate -q -y -L 128M -n restored2 vg0
dd if=/dev/urandom of=/dev/vg0/restored2 bs=1M count=128 status=none
$S2 restore thin thin.20261129T000000Z --to vg0/restored2 > out/restore2.txt
sha256sum < /dev/vg0/restored2 | cut -d' ' -f1 > out/dev.linear
# an earlier point of the chain, and a refusal while mounted
$S2 restore thin 20261128 --to vg0/restored > /dev/null
lvchange -q -ay -K vg0/thin.20261128T000000Z
cmp /dev/vg0/thin.20261128T000000Z /dev/vg0/restored && echo same > out/restore-mid.txt
mkdir -p /mnt/r
mount /dev/vg0/restored /mnt/r
$S2 restore thin latest --to vg0/restored 2> out/restore-busy.err && echo restored > out/restore-busy.fail
umount /mnt/r
# thick: a full image that skips the zeros
$S2 snapshot other --now 2026-11-29T01:00:00Z
$S2 send --json other --now 2026-11-29T01:00:10Z > out/send-thick.json
stat -c %s /srv/backup/other/other.20261129T010000Z/image > out/thick-image.txt
sha256sum < /dev/vg0/other.20261129T010000Z | cut -d' ' -f1 > out/other-dev.want
lvcreate -q -y -L 64M -n restored3 vg0
$S2 restore other latest --to vg0/restored3 > /dev/null
sha256sum < /dev/vg0/restored3 | cut -d' ' -f1 > out/other-dev.restored
dmsetup status vg0-pool-tpool > out/tpool-status.txt

# --- a thick snapshot that overflows is invalid, and prune removes it
$SR snapshot thick --now 2026-11-26T00:00:00Z
dd if=/dev/urandom of=/mnt/thick/big bs=1M count=20 conv=fsync status=none
$SR list --json thick > out/ov-list.json
$SR list thick > out/ov-list.txt
$SR status --json thick > out/ov-status.json || true
$SR check --json thick --now 2026-11-26T00:30:00Z > out/ov-check.json || true
$SR prune thick --now 2026-11-26T01:00:00Z > out/ov-prune.txt 2> out/ov-prune.err
$SR list --json thick > out/ov-after.json

# --- check: a thick snapshot's COW space over 80%, a thin pool over 80% (WARNING)
$SR snapshot thick --now 2026-11-26T02:00:00Z > /dev/null
dd if=/dev/urandom of=/mnt/thick/cow bs=1M count=10 conv=fsync status=none
cur=$(lvs --noheadings -o data_percent vg0/pool | tr -d ' ' | cut -d. -f1)
need=$(( (88 - cur) * 3 ))
if [ "$need" -gt 0 ]; then
	lvcreate -q -y -V ${need}M -T vg0/pool -n fill
	dd if=/dev/urandom of=/dev/vg0/fill bs=1M count=$need conv=fsync status=none
fi
$SR check --json thick thin --now 2026-11-26T02:10:00Z > out/chk.json || echo $? > out/chk.rc
$SR check --prometheus thick thin --now 2026-11-26T02:10:00Z > out/chk.prom
lvremove -q -y vg0/fill 2>/dev/null || true
rm -f /mnt/thick/cow

# --- one of ours whose kind tag was changed by hand: damaged, kept, reported
$SR snapshot thin --now 2026-11-30T00:00:00Z
lvchange -q --addtag sr.kind=bogus --deltag sr.kind=manual vg0/thin.20261130T000000Z
$SR list --json thin > out/dmg-list.json
$SR prune thin --now 2026-12-30T00:00:00Z > out/dmg-prune.txt 2> out/dmg-prune.err
echo $? > out/dmg-prune.rc
lvs --noheadings -o lv_name vg0 > out/dmg-lvs.txt
"""


def run_guest(tmp_path, kernel, body, timeout=1500):
    share = tmp_path / f"share-{kernel}"
    share.mkdir()
    (share / "rotate.conf").write_text(CONF)
    (share / "guest.sh").write_text(SETUP + body)
    r = subprocess.run([str(VM), "--kernel", kernel, "--share", str(share), "--bin", str(BINARY),
                        "--bin", str(FREEZE_TOOL),
                        "--copy", f"{LIBLVM}:{LIBLVM}", "--timeout", str(timeout), "--",
                        "bash", "./guest.sh"], capture_output=True, text=True)
    return r, share


def parse_time(s):
    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
               .timestamp())


@pytest.fixture(scope="module", params=KERNELS)
def rotation(request, tmp_path_factory):
    """One boot per kernel: months of runs on thick and thin LVs, then the rest."""
    kernel = request.param
    tmp = tmp_path_factory.mktemp(f"lvm-{kernel}")
    rnd = random.Random(61)
    start = parse_time("2026-11-01T00:00:00Z")
    times = sorted(start + rnd.randrange(12 * 86400) for _ in range(40))
    steps = "\n".join(f'$SR run --now {iso(t)} >/dev/null; $SR list --json > out/{i}.json'
                      for i, t in enumerate(times))
    body = steps + r"""
# --- metadata in tags: kinds, pin, pre/post, description with spaces and symbols
$SR snapshot --pin --description 'before "upgrade" & co, 50%' thick --now 2026-11-20T10:00:00Z
pre=$($SR snapshot --kind pre thick --now 2026-11-20T10:01:00Z)
$SR snapshot --pre "$pre" thick --now 2026-11-20T10:02:00Z
$SR list --json thick > out/meta.json
# a pinned one refuses delete
if $SR delete thick 20261120T1000; then echo "pinned deleted" > out/pin.fail; fi
# pin and unpin rewrite the tags: everything else must stay (LVM applies --deltag last)
$SR unpin thick 20261120T1000
$SR list --json thick > out/unpin.json
$SR pin thick 20261120T1000
# foreign: an LV with the name pattern but not our tag, and a plain LV
lvcreate -q -y -s -L 8M -n thick.20261119T000000Z vg0/thick
$SR prune thick --now 2026-11-20T11:00:00Z > out/prune.txt
$SR list --json thick > out/foreign.json
lvs --noheadings -o lv_name vg0 > out/lvs.txt
# --- the group: both members at one instant, frozen or one by one
$SR snapshot pair --now 2026-11-21T00:00:00Z > out/group.txt 2> out/group.err || true
$SR list --json thin other > out/group.json
uname -r > out/kernel
""" + HEALTH
    r, share = run_guest(tmp, kernel, body)
    return kernel, times, r, share


def test_vm_boot_and_guest_script(rotation):
    kernel, times, r, share = rotation
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_rotation_matches_the_model(rotation):
    kernel, times, r, share = rotation
    assert r.returncode == 0, r.stdout[-2000:]
    model = {v: [] for v in POLICIES}
    for i, now in enumerate(times):
        doc = json.loads((share / "out" / f"{i}.json").read_text())
        got = {v["volume"]: [s["name"] for s in v["snapshots"] if not s["foreign"]]
               for v in doc["volumes"]}
        # thin and other form a group: both are taken when either is due.
        pair = any(due(model[v], *POLICIES[v], now, TZ) for v in ("thin", "other"))
        for v, (policy, interval) in POLICIES.items():
            if (pair if v in ("thin", "other") else due(model[v], policy, interval, now, TZ)):
                model[v].append(Snap(f"{v}.{stamp(now)}", now))
            keep = expected_keep(model[v], policy, now, TZ)
            model[v] = [s for s in model[v] if s.name in keep]
            assert got[v] == [s.name for s in model[v]], f"{kernel} {v} step {i}"
        for v in doc["volumes"]:
            for s in v["snapshots"]:
                assert s["complete"] is True, s


def test_metadata_lives_in_tags(rotation):
    kernel, times, r, share = rotation
    doc = json.loads((share / "out" / "meta.json").read_text())
    snaps = {s["name"]: s for s in doc["volumes"][0]["snapshots"]}
    pinned = snaps["thick.20261120T100000Z"]
    assert pinned["pinned"] is True and pinned["kind"] == "manual"
    assert pinned["description"] == 'before "upgrade" & co, 50%'
    assert snaps["thick.20261120T100200Z"]["kind"] == "post"
    assert snaps["thick.20261120T100200Z"]["pre"] == "thick.20261120T100100Z"
    assert not (share / "out" / "pin.fail").exists()
    unpinned = snaps_of(share, "unpin.json")["thick.20261120T100000Z"]
    assert unpinned["pinned"] is False and unpinned["foreign"] is False
    assert unpinned["kind"] == "manual" and unpinned["complete"] is True
    assert unpinned["description"] == 'before "upgrade" & co, 50%'


def test_foreign_lvs_are_never_touched(rotation):
    kernel, times, r, share = rotation
    doc = json.loads((share / "out" / "foreign.json").read_text())
    foreign = [s["name"] for s in doc["volumes"][0]["snapshots"] if s["foreign"]]
    assert foreign == ["thick.20261119T000000Z"]
    lvs = (share / "out" / "lvs.txt").read_text().split()
    assert "thick.20261119T000000Z" in lvs and "thick" in lvs and "pool" in lvs


def test_group_snapshot(rotation):
    kernel, times, r, share = rotation
    doc = json.loads((share / "out" / "group.json").read_text())
    names = {v["volume"]: [s["name"] for s in v["snapshots"]] for v in doc["volumes"]}
    assert "thin.20261121T000000Z" in names["thin"]
    assert "other.20261121T000000Z" in names["other"]
    err = (share / "out" / "group.err").read_text()
    release = (share / "out" / "kernel").read_text()
    if release.startswith("6.1."):
        # A frozen filesystem makes DM's suspend fail: thawed, then one by one.
        assert "one by one" in err, err
    else:
        assert "one by one" not in err, err


def out(share, name):
    return (share / "out" / name).read_text()


def snaps_of(share, name):
    return {s["name"]: s for s in json.loads(out(share, name))["volumes"][0]["snapshots"]}


def test_group_snapshot_counters(rotation):
    """A writer bumps a counter in both members; FIFREEZE of both before any
    snapshot means every group snapshot holds the same counter (6.6+)."""
    kernel, times, r, share = rotation
    rows = [line.split() for line in out(share, "counters.txt").splitlines()]
    assert len(rows) == 6, rows
    by_round = {}
    for rnd, vol, counter in rows:
        by_round.setdefault(rnd, {})[vol] = int(counter)
    assert all(c["thin"] > 0 for c in by_round.values()), by_round
    if not out(share, "kernel").startswith("6.1."):
        assert all(c["thin"] == c["other"] for c in by_round.values()), by_round
        assert "one by one" not in out(share, "counter.err")


def test_sigkill_while_frozen_thaws_both(rotation):
    kernel, times, r, share = rotation
    lines = out(share, "freeze.txt").splitlines()
    assert lines[0] == "frozen"
    assert "frozen /mnt/thin" in lines and "frozen /mnt/other" in lines, lines
    thawed = {l.split()[1]: int(l.split()[2]) for l in lines if l.startswith("thawed")}
    assert set(thawed) == {"/mnt/thin", "/mnt/other"}, lines
    # the watchdog sees its parent die at once, and freeze_timeout is 20 s anyway
    assert all(t <= 21 for t in thawed.values()), thawed


def test_thin_pool_over_threshold_refuses_the_snapshot(rotation):
    kernel, times, r, share = rotation
    assert not (share / "out" / "full.fail").exists()
    err = out(share, "full.err")
    assert "thin pool vg0/pool is" in err and "thin_pool_max 10%" in err, err
    before, after = out(share, "full.count").split()
    assert before == after


def test_a_missing_vg_or_lv_is_said_once(rotation):
    kernel, times, r, share = rotation
    vg, lv = out(share, "missing-vg.err"), out(share, "missing-lv.err")
    # list goes on past a volume it cannot read: exit 1, not a usage error
    assert out(share, "missing-vg.rc").strip() == "1" == out(share, "missing-lv.rc").strip()
    assert "volume 'novg': lvs: Volume group \"nosuch\" not found" in vg, vg
    assert "volume 'nolv': lvs: " in lv and "vg0/nosuch" in lv, lv
    for err in (vg, lv):
        assert len(err.strip().splitlines()) == 1, err
        assert "Input/output error" not in err and "Cannot process" not in err, err


def test_rescue_vg_finds_the_volumes_from_their_tags(rotation):
    kernel, times, r, share = rotation
    vols = {v["volume"]: v["snapshots"] for v in
            json.loads(out(share, "rescue-vg.json"))["volumes"]}
    assert {"thick", "thin", "other"} <= set(vols), sorted(vols)
    assert all(vols[v] for v in ("thick", "thin", "other")), vols
    conf = out(share, "rescue-vg.conf")
    for v in ("thick", "thin", "other"):
        assert f"[volume {v}]\nbackend = lvm\nlv = vg0/{v}\n" in conf, conf


def test_rollback_thick_merges_at_next_activation(rotation):
    kernel, times, r, share = rotation
    assert "lvconvert --merge" in out(share, "rb-thick-dry.txt")
    rb = json.loads(out(share, "rb-thick.json"))
    assert rb["snapshot"] == "thick.20261124T000000Z"
    assert rb["saved"] == "thick.20261124T010000Z"
    assert rb["result"] == "at next activation"
    snaps = snaps_of(share, "rb-thick-list.json")
    assert snaps["thick.20261124T000000Z"]["merging"] is True
    assert snaps["thick.20261124T010000Z"]["description"] == \
        "before rollback to thick.20261124T000000Z"
    st = json.loads(out(share, "rb-thick-status.json"))["volumes"][0]
    assert st["merge_pending"] is True and st["merging"] == "thick.20261124T000000Z"
    assert "MERGE PENDING" in out(share, "rb-thick-status.txt")
    # LVM takes no snapshot of an origin with a pending merge: said clearly
    assert not (share / "out" / "rb-thick-refused.fail").exists()
    assert "rollback to thick.20261124T000000Z is pending" in out(share, "rb-thick-refused.err")
    after = json.loads(out(share, "rb-thick-status-after.json"))["volumes"][0]
    assert after["merge_pending"] is False
    # the content is the snapshot's, and the state before is kept
    assert out(share, "thick.got") == out(share, "thick.want")
    assert out(share, "thick.saved") == out(share, "thick.changed")
    assert out(share, "thick.want") != out(share, "thick.changed")


def test_rollback_thin_merges_at_once(rotation):
    kernel, times, r, share = rotation
    rb = json.loads(out(share, "rb-thin.json"))
    assert rb["result"] == "done" and rb["saved"] == "thin.20261125T010000Z"
    assert out(share, "thin.got") == out(share, "thin.want")
    before = snaps_of(share, "rb-thin-before.json")
    after = snaps_of(share, "rb-thin-after.json")
    # the merged one is gone; every other thin snapshot is still ours and complete
    assert "thin.20261125T000000Z" not in after
    assert set(after) == (set(before) - {"thin.20261125T000000Z"}) | {"thin.20261125T010000Z"}
    assert all(s["complete"] for s in after.values() if not s["foreign"]), after
    # the origin does not inherit the merged snapshot's tags
    assert "snaprotate" not in out(share, "rb-thin-tags.txt")


def test_overflowed_thick_snapshot_is_invalid_and_pruned(rotation):
    kernel, times, r, share = rotation
    snaps = snaps_of(share, "ov-list.json")
    s = snaps["thick.20261126T000000Z"]
    assert s["invalid"] is True and s["complete"] is False
    assert "INVALID" in out(share, "ov-list.txt")
    st = json.loads(out(share, "ov-status.json"))["volumes"][0]
    assert st["invalid"] >= 1
    assert "thick.20261126T000000Z" in out(share, "ov-prune.err")
    assert "raise snapshot_size" in out(share, "ov-prune.err")
    assert not any(x["invalid"] for x in snaps_of(share, "ov-after.json").values())
    assert "thick.20261126T000000Z" not in snaps_of(share, "ov-after.json")
    chk = json.loads(out(share, "ov-check.json"))
    assert chk["state"] == "CRITICAL" and chk["exit"] == 2, chk
    # (the 20 MiB overflowed every thick snapshot there was, not only the newest)
    assert any(p["state"] == "CRITICAL" and
               re.fullmatch(r"\d+ snapshots? overflowed \(INVALID: the content is lost\)", p["text"])
               for p in chk["volumes"][0]["problems"]), chk


def test_check_warns_of_full_lvm_snapshots_and_pools(rotation):
    """check (SPEC 4): a thick snapshot's COW space and a thin pool over 80% are
    WARNINGs, in the plugin's JSON and in the Prometheus metrics."""
    kernel, times, r, share = rotation
    chk = json.loads(out(share, "chk.json"))
    probs = {v["volume"]: [(p["state"], p["text"]) for p in v["problems"]] for v in chk["volumes"]}
    assert any(s == "WARNING" and "copy-on-write space is" in t for s, t in probs["thick"]), probs
    assert any(s == "WARNING" and t.startswith("thin pool vg0/pool is") for s, t in probs["thin"])
    assert chk["exit"] == int(out(share, "chk.rc").strip()) >= 1
    prom = out(share, "chk.prom")
    val = {}
    for line in prom.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            val[k] = float(v)
    assert val['snaprotate_pool_usage_ratio{volume="thin",pool="vg0/pool",part="data"}'] > 0.8
    assert val['snaprotate_cow_usage_max_ratio{volume="thick"}'] > 0.8
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=prom, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_damaged_tags_keep_the_lv(rotation):
    kernel, times, r, share = rotation
    s = snaps_of(share, "dmg-list.json")["thin.20261130T000000Z"]
    assert s["damaged"] is True and s["complete"] is False and "kind" in s["problem"]
    assert out(share, "dmg-prune.rc").strip() == "0"
    assert "thin.20261130T000000Z is damaged" in out(share, "dmg-prune.err")
    assert "thin.20261130T000000Z" in out(share, "dmg-lvs.txt")


def test_thin_send_incremental_and_restore(rotation):
    kernel, times, r, share = rotation
    s1 = json.loads(out(share, "send1.json"))
    s2 = json.loads(out(share, "send2.json"))
    files = out(share, "target-files.txt").split()
    # the first send: a full image, then (if the target's retention wanted an
    # older snapshot too) deltas; every later send: one delta
    assert any(f.startswith("thin/thin.20261127T000000Z/") for f in files), files
    assert "thin/thin.20261128T000000Z/delta" in files
    assert "thin/thin.20261129T000000Z/delta" in files
    # the delta carries the 3 MiB changed, not the volume (pool chunks of 64 KiB)
    sent2 = [t for v in s2["volumes"] for tg in v["targets"] for t in tg["sent"]]
    assert len(sent2) == 1 and sent2[0]["parent"] == "thin.20261127T000000Z"
    assert 3 << 20 <= sent2[0]["bytes"] <= (3 << 20) + (2 << 20), sent2
    sent1 = [t for v in s1["volumes"] for tg in v["targets"] for t in tg["sent"]]
    assert sent1[0]["parent"] is None
    # identical devices, into a thin LV and into a linear LV full of noise
    want = out(share, "dev.want").strip()
    assert len(want) == 64
    assert out(share, "dev.thin").strip() == want
    assert out(share, "dev.linear").strip() == want
    rs = json.loads(out(share, "restore.json"))
    # a full image first (the first send also sent an older snapshot the
    # target's retention wanted), then one delta per send
    chain = [c["name"] for c in rs["chain"]]
    assert chain[-3:] == ["thin.20261127T000000Z", "thin.20261128T000000Z",
                          "thin.20261129T000000Z"], chain
    assert out(share, "restore-mid.txt").strip() == "same"
    assert not (share / "out" / "restore-busy.fail").exists()
    assert "in use" in out(share, "restore-busy.err")
    # the metadata snapshot thin_delta needed was released (held root "-")
    fields = out(share, "tpool-status.txt").split()
    assert fields[2] == "thin-pool" and fields[6] == "-", fields


def test_target_retention_keeps_the_chain(rotation):
    """retain = daily=1 on the target keeps only the newest by itself, but it is
    a delta of a delta of a full image: all three stay."""
    kernel, times, r, share = rotation
    doc = json.loads(out(share, "send3.json"))
    thin = [v for v in doc["volumes"] if v["volume"] == "thin"][0]
    dec = {d["name"]: d for d in thin["targets"][0]["decisions"]}
    assert dec["thin.20261128T000000Z"]["action"] == "keep"
    assert "base of thin.20261129T000000Z" in dec["thin.20261128T000000Z"]["reasons"]
    assert "base of thin.20261128T000000Z" in dec["thin.20261127T000000Z"]["reasons"]


def test_thick_sends_a_sparse_full_image(rotation):
    kernel, times, r, share = rotation
    size = int(out(share, "thick-image.txt"))
    # a 64 MiB ext4 with a few files: most blocks are zero and cost nothing
    assert size < 16 << 20, size
    want = out(share, "other-dev.want").strip()
    assert len(want) == 64 and out(share, "other-dev.restored").strip() == want
