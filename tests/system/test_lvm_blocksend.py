"""Block streams of LVM snapshots on real LVM: Debian's kernel booted under QEMU by
tests/vm/run-vm.sh, one boot per kernel running every check (a boot costs 30-60 s
of CPU here). The guest drives build/tests/blockstream-tool: a full image of thin
snapshot A plus the delta A -> B (thin_delta against a reserved metadata snapshot)
are restored into a new thin LV, through a pipe into another, and into a linear LV
full of old data; each must read exactly like B. Then the metadata snapshot must be
released, also after a stale reservation and after thin_delta failures, and a
mostly empty thick LV must give a small image."""
import os
import subprocess
import time

import pytest

from conftest import ROOT

VM = ROOT / "tests" / "vm" / "run-vm.sh"
TOOL = ROOT / "build" / "tests" / "blockstream-tool"
KERNELS = os.environ.get("SNAPROTATE_VM_KERNELS", "6.1 6.12").split()
# Coreutils in the guest (busybox has no fullblock dd and a slow sha256sum).
COREUTILS = ["/usr/bin/sha256sum", "/usr/bin/dd", "/usr/bin/yes", "/usr/bin/cmp"]
# The tool runs LVM's commands in process, as snaprotate does.
LIBLVM = "/lib/x86_64-linux-gnu/liblvm2cmd.so.2.03"
MiB = 1 << 20
CHANGED = 4 * MiB       # rewritten + new file data between A and B
DISCARDED = 4 * MiB     # a file deleted (online discard) between A and B

pytestmark = [
    pytest.mark.skipif(not VM.exists(), reason="needs tests/vm/run-vm.sh"),
    pytest.mark.skipif(not TOOL.exists(), reason="needs build/tests/blockstream-tool (make)"),
]

GUEST = r"""
set -euo pipefail
exec 2>&1
T=blockstream-tool
POOL=vg0-pool-tpool
mkdir -p out
cleanup() {
	umount /mnt/thin 2>/dev/null || true
	dmsetup message $POOL 0 release_metadata_snap 2>/dev/null || true
	vgremove -q -f -y vg0 >/dev/null 2>&1 || true
	pvremove -q -y /dev/vda >/dev/null 2>&1 || true
	vgmknodes --refresh >/dev/null 2>&1 || true
}
trap cleanup EXIT
held() { dmsetup status $POOL | awk '{ print $7 }'; }
# Wall time of each part, for the record (TCG is slow: every second counts).
t_last=${EPOCHREALTIME/./}
lap() { local t=${EPOCHREALTIME/./}; echo "$1 $(( (t - t_last) / 1000 )) ms" >> out/laps.txt; t_last=$t; }
# Old data all over an LV ("yes" ends by SIGPIPE, which pipefail would report).
garbage() { (yes || true) | dd of="$1" bs=1M count=$2 iflag=fullblock status=none; }
uname -r > out/kernel

pvcreate -q /dev/vda
vgcreate -q vg0 /dev/vda
lvcreate -q -y -L 300M -T vg0/pool
lvcreate -q -y -V 64M -T vg0/pool -n thin
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/thin
mkdir -p /mnt/thin
mount -o discard /dev/vg0/thin /mnt/thin
dd if=/dev/urandom of=/mnt/thin/file1 bs=1M count=8 conv=fsync status=none
dd if=/dev/urandom of=/mnt/thin/file2 bs=1M count=4 conv=fsync status=none
sync
lvcreate -q -s -n A vg0/thin
# The change: 2 MiB rewritten in place, a new 2 MiB file, a 4 MiB file deleted
# (mounted with discard: its chunks are unmapped, "left_only" for thin_delta).
dd if=/dev/urandom of=/mnt/thin/file1 bs=1M seek=2 count=2 conv=notrunc,fsync status=none
dd if=/dev/urandom of=/mnt/thin/file3 bs=1M count=2 conv=fsync status=none
rm /mnt/thin/file2
sync
lvcreate -q -s -n B vg0/thin
lvchange -q -ay -K vg0/A vg0/B
lap setup

t0=${EPOCHREALTIME/./}
$T full-lv vg0 A out/full.bs > out/full.txt
t1=${EPOCHREALTIME/./}
$T delta vg0 A B out/delta.bs > out/delta.txt
t2=${EPOCHREALTIME/./}
echo "full_ms=$(( (t1 - t0) / 1000 )) delta_ms=$(( (t2 - t1) / 1000 ))" > out/times.txt
held > out/held-after-delta
lap send

# A reservation left by a crash: released, and the reservation retried once.
dmsetup message $POOL 0 reserve_metadata_snap
held > out/held-stale
$T delta vg0 A B out/delta2.bs > out/delta2.txt
held > out/held-after-stale
cmp out/delta.bs out/delta2.bs && echo same > out/deterministic

# thin_delta failing, or printing what is not its XML: still released.
mkdir -p /run/fake
printf '#!/bin/sh\necho "<superblock data_block_size=\\"128\\">"\necho "oops" >&2\nexit 1\n' \
	> /run/fake/thin_delta
chmod +x /run/fake/thin_delta
if PATH=/run/fake:$PATH $T delta vg0 A B out/x.bs 2> out/fail1.err; then echo ok > out/fail1.ok; fi
held > out/held-after-fail1
printf '#!/bin/sh\necho "<superblock data_block_size=\\"128\\">"\necho "<bogus/>"\n' \
	> /run/fake/thin_delta
if PATH=/run/fake:$PATH $T delta vg0 A B out/x.bs 2> out/fail2.err; then echo ok > out/fail2.ok; fi
held > out/held-after-fail2
lap release-checks

# Restore: a new thin LV (skipping zero extents), the chain A then B.
lvcreate -q -y -V 64M -T vg0/pool -n rthin
$T apply --zeroed out/full.bs /dev/mapper/vg0-rthin > out/apply-full.txt
uuidA=$(sed -n 's/^uuid=//p' out/apply-full.txt)
if $T apply out/delta.bs /dev/mapper/vg0-rthin wrong-uuid 2> out/wrong-parent.err; then
	echo ok > out/wrong-parent.ok
fi
$T apply out/delta.bs /dev/mapper/vg0-rthin "$uuidA" > out/apply-delta.txt
lap restore-thin
# The delta through a pipe, as over ssh, straight from the snapshot.
lvcreate -q -y -V 64M -T vg0/pool -n rpipe
$T apply --zeroed out/full.bs /dev/mapper/vg0-rpipe > /dev/null
$T delta vg0 A B - | $T apply - /dev/mapper/vg0-rpipe "$uuidA" > /dev/null
lap restore-pipe
# A linear LV full of old data: the zero extents must clear it.
lvcreate -q -y -L 64M -n rlin vg0
garbage /dev/vg0/rlin 64
$T apply out/full.bs /dev/mapper/vg0-rlin > /dev/null
$T apply out/delta.bs /dev/mapper/vg0-rlin "$uuidA" > /dev/null
lap restore-linear
sha256sum /dev/mapper/vg0-B /dev/mapper/vg0-rthin > out/sha-thin.txt
for lv in rpipe rlin A; do
	if cmp -s /dev/mapper/vg0-B /dev/mapper/vg0-$lv; then echo "$lv same"; else echo "$lv differs"; fi
done > out/cmp-thin.txt
lvs --noheadings --nosuffix --units b -o lv_name,data_percent vg0 > out/lvs.txt
lap compare

# Thick: a mostly empty 256 MiB LV with ext4, its snapshot sent as a sparse full image.
lvcreate -q -y -L 256M -n thick vg0
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/thick
lvcreate -q -y -s -L 32M -n thicksnap vg0/thick
$T full-lv vg0 thicksnap out/thick.bs > out/thick.txt
$T verify out/thick.bs > out/thick-verify.txt
if $T delta vg0 thick thicksnap out/x.bs 2> out/notthin.err; then echo ok > out/notthin.ok; fi
# Thin LVs on an external origin: their unmapped blocks are not zeros, so no delta.
lvcreate -q -y -L 8M -n ro vg0
lvchange -q -pr vg0/ro
lvchange -q -an vg0/ro
lvcreate -q -y -s --thinpool vg0/pool vg0/ro -n ext1
lvcreate -q -y -s vg0/ext1 -n ext2
if $T delta vg0 ext1 ext2 out/x.bs 2> out/external.err; then echo ok > out/external.ok; fi
lap thick
held > out/held-end
echo done > out/done
"""


def kv(path):
    out = {}
    for line in path.read_text().splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def sums(path):
    return {line.split()[1].rsplit("/", 1)[1]: line.split()[0]
            for line in path.read_text().splitlines()}


@pytest.fixture(scope="module", params=KERNELS)
def vm(request, tmp_path_factory):
    kernel = request.param
    share = tmp_path_factory.mktemp(f"blocksend-{kernel}")
    (share / "guest.sh").write_text(GUEST)
    argv = [str(VM), "--kernel", kernel, "--share", str(share), "--bin", str(TOOL),
            "--copy", f"{LIBLVM}:{LIBLVM}", "--timeout", "900"]
    for b in COREUTILS:
        argv += ["--bin", b]
    start = time.monotonic()
    r = subprocess.run(argv + ["--", "bash", "./guest.sh"], capture_output=True, text=True)
    wall = time.monotonic() - start
    print(f"\n{kernel}: VM run {wall:.1f} s; {r.stderr.strip().splitlines()[-1:]}")
    return kernel, r, share / "out"


def test_guest_script_ran(vm):
    kernel, r, out = vm
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert (out / "done").exists()
    assert (out / "kernel").read_text().startswith(kernel + ".")


def test_restored_devices_equal_snapshot_b(vm):
    kernel, r, out = vm
    s = sums(out / "sha-thin.txt")
    assert s["vg0-rthin"] == s["vg0-B"], "thin LV from full + delta"
    cmp = dict(line.split() for line in (out / "cmp-thin.txt").read_text().splitlines())
    assert cmp == {"rpipe": "same", "rlin": "same", "A": "differs"}, cmp


def test_delta_is_close_to_the_change(vm):
    kernel, r, out = vm
    d = kv(out / "delta.txt")
    chunk = int(d["chunk_size"])
    assert chunk == 64 * 1024
    stream, data, zero = int(d["stream_bytes"]), int(d["data_bytes"]), int(d["zero_bytes"])
    # Data: the change plus ext4 metadata blocks (inode, bitmaps, journal), each in a chunk.
    assert CHANGED <= data < CHANGED + 64 * chunk, d
    assert stream < 2 * CHANGED + 64 * chunk, d
    assert stream - data < 64 * 1024, d  # records and header only
    # The deleted file's chunks were discarded: they travel as zero extents.
    assert zero >= DISCARDED - 2 * chunk, d
    assert int(d["changed"]) == data + zero
    full = kv(out / "full.txt")
    assert int(full["data_bytes"]) >= 12 * MiB
    ranges = [tuple(map(int, line.split("=", 1)[1].split("+")))
              for line in (out / "delta.txt").read_text().splitlines()
              if line.startswith("range=")]
    assert len(ranges) == int(d["ranges"])
    assert sum(n for _, n in ranges) == int(d["changed"])
    assert all(o % chunk == 0 and n % chunk == 0 for o, n in ranges)
    assert all(a[0] + a[1] < b[0] for a, b in zip(ranges, ranges[1:])), "sorted, merged"


def test_restore_keeps_a_thin_lv_thin(vm):
    kernel, r, out = vm
    pct = {f[0]: float(f[1]) for f in (line.split() for line in
                                       (out / "lvs.txt").read_text().splitlines())
           if len(f) == 2}
    assert pct["rthin"] <= pct["B"] + 1.0, pct
    assert pct["rpipe"] <= pct["B"] + 1.0, pct


def test_metadata_snapshot_always_released(vm):
    kernel, r, out = vm
    for f in ("held-after-delta", "held-after-stale", "held-after-fail1", "held-after-fail2",
              "held-end"):
        assert (out / f).read_text().strip() == "-", f
    assert (out / "held-stale").read_text().strip() != "-"
    assert (out / "deterministic").exists(), "the same delta twice gives the same bytes"
    assert not (out / "fail1.ok").exists()
    assert "thin_delta failed (exit status 1)" in (out / "fail1.err").read_text()
    assert not (out / "fail2.ok").exists()
    assert "thin_delta output line 2" in (out / "fail2.err").read_text()


def test_wrong_parent_not_thin_and_external_origin_are_refused(vm):
    kernel, r, out = vm
    assert not (out / "wrong-parent.ok").exists()
    assert "Wrong medium type" in (out / "wrong-parent.err").read_text()
    assert not (out / "notthin.ok").exists()
    assert "'vg0/thick' is not a thin LV" in (out / "notthin.err").read_text()
    assert not (out / "external.ok").exists()
    assert "'vg0/ext1' has an external origin" in (out / "external.err").read_text()


def test_thick_full_image_is_sparse(vm):
    kernel, r, out = vm
    t = kv(out / "thick.txt")
    assert int(t["data_bytes"]) + int(t["zero_bytes"]) == 256 * MiB
    assert int(t["stream_bytes"]) < 16 * MiB, t
    assert (out / "thick.bs").stat().st_size == int(t["stream_bytes"])
    v = kv(out / "thick-verify.txt")
    assert v["kind"] == "full" and v["name"] == "thicksnap" and v["device_size"] == str(256 * MiB)
