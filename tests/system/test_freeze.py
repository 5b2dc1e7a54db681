"""The freeze watchdog (src/core/freeze.c) on real loop ext4 filesystems: a
frozen filesystem is always thawed, by snaprotate or, when it dies, by the
watchdog within freeze_timeout."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, run, wait_until

TOOL = ROOT / "build" / "tests" / "freeze-tool"


class Ext4:
    def __init__(self, base: Path):
        self.probes = []
        self.img = base / "ext4.img"
        self.mnt = base / "ext4"
        self.img.touch()
        os.truncate(self.img, 64 << 20)
        run("mkfs.ext4", "-q", "-F", self.img)
        self.mnt.mkdir()
        self.loop = run("losetup", "--find", "--show", self.img).stdout.strip()
        run("mount", self.loop, self.mnt)

    def frozen(self):
        """A write that blocks means frozen. The blocked writer sleeps in the
        kernel until the thaw (not even SIGKILL ends it), so it is collected in
        close(), after the thaw."""
        p = subprocess.Popen(["dd", "if=/dev/zero", f"of={self.mnt}/probe", "bs=4k",
                              "count=1", "conv=fsync"], stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=0.5)
            return False
        except subprocess.TimeoutExpired:
            self.probes.append(p)
            return True

    def close(self):
        subprocess.run(["fsfreeze", "-u", str(self.mnt)], capture_output=True)
        for p in self.probes:
            p.wait(timeout=30)
        run("umount", self.mnt)
        run("losetup", "-d", self.loop)


@pytest.fixture
def two_ext4(tmp_path):
    fss = []
    try:
        for i in range(2):
            base = tmp_path / f"fs{i}"
            base.mkdir()
            fss.append(Ext4(base))
        yield fss
    finally:
        for fs in fss:
            fs.close()


def start(timeout, fss):
    p = subprocess.Popen([str(TOOL), str(timeout)] + [str(f.mnt) for f in fss],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "frozen\n"
    return p


def test_freeze_and_thaw(two_ext4):
    p = start(30, two_ext4)
    assert all(fs.frozen() for fs in two_ext4)
    p.stdin.write("go\n")
    p.stdin.flush()
    assert p.stdout.readline() == "thawed\n"
    assert p.wait(timeout=10) == 0
    assert not any(fs.frozen() for fs in two_ext4)


def test_sigkill_while_frozen_is_thawed_by_the_watchdog(two_ext4):
    p = start(30, two_ext4)
    assert all(fs.frozen() for fs in two_ext4)
    p.kill()
    p.wait()
    # The watchdog sees snaprotate gone at once, not only at the timeout.
    wait_until(lambda: not any(fs.frozen() for fs in two_ext4), timeout=10,
               what="the watchdog to thaw")


def test_timeout_thaws_while_snaprotate_hangs(two_ext4):
    p = start(2, two_ext4)
    t0 = time.monotonic()
    assert all(fs.frozen() for fs in two_ext4)
    wait_until(lambda: not any(fs.frozen() for fs in two_ext4), timeout=15,
               what="the timeout to thaw")
    assert time.monotonic() - t0 >= 1.5
    assert p.poll() is None          # snaprotate itself is still there
    p.stdin.write("go\n")
    p.stdin.flush()
    assert p.wait(timeout=10) == 0   # a thaw of a thawed filesystem is no error


def test_a_failed_freeze_leaves_nothing_frozen(two_ext4, tmp_path):
    plain = tmp_path / "not-a-mount-of-a-freezable-fs"
    plain.mkdir()
    r = subprocess.run([str(TOOL), "30", str(two_ext4[0].mnt), "/proc"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot freeze '/proc'" in r.stderr
    assert not two_ext4[0].frozen()


def test_sigterm_is_held_off_while_frozen(two_ext4):
    p = start(30, two_ext4)
    p.send_signal(signal.SIGTERM)
    # Had SIGTERM ended it, the watchdog would have thawed at once.
    assert all(fs.frozen() for fs in two_ext4)
    p.stdin.write("go\n")
    p.stdin.flush()
    # Delivered after the thaw, the pending SIGTERM ends it then.
    assert p.wait(timeout=10) == -signal.SIGTERM
    assert not any(fs.frozen() for fs in two_ext4)
