"""A btrfs volume directory made by an older serve is a plain directory; the
first session that changes the volume converts it into a subvolume (which the
confined receive needs), keeping every copy, and finishes a conversion that a
crash interrupted."""
import fcntl
import json
import os
import shutil
import struct
import subprocess

import pytest

from conftest import Btrfs, Serve, info, run, send_stream, subvol_uuid

NAMES = ["data.20261201T000000Z", "data.20261202T000000Z"]
BTRFS_IOC_SUBVOL_SETFLAGS = 0x4008941A


def set_writable(path):
    """The flag alone, as serve flips it (btrfs property set would also drop the
    received uuid)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, struct.pack("Q", 0))
    finally:
        os.close(fd)


@pytest.fixture
def legacy(tmp_path):
    """Source snapshots p0, p1 (p1 incremental on p0) and a target root whose
    volume directory 'data' is plain, holding their copies as an old serve left
    them (a received subvolume and info.json in each NAME)."""
    (tmp_path / "s").mkdir()
    (tmp_path / "t").mkdir()
    src, dst = Btrfs(tmp_path / "s"), Btrfs(tmp_path / "t")
    try:
        vol = src.subvolume("data")
        uuids = []
        for i, name in enumerate(NAMES + ["data.20261203T000000Z"]):
            (vol / f"file{i}").write_bytes(os.urandom(100000))
            (src.mnt / f"p{i}").mkdir()
            run("btrfs", "subvolume", "snapshot", "-r", vol, src.mnt / f"p{i}" / "snapshot")
            uuids.append(subvol_uuid(src.mnt / f"p{i}" / "snapshot"))
        root = dst.mnt / "backup"
        (root / "data").mkdir(parents=True)
        for i, name in enumerate(NAMES):
            d = root / "data" / name
            d.mkdir()
            parent = ["-p", src.mnt / f"p{i - 1}" / "snapshot"] if i else []
            stream = send_stream(*parent, src.mnt / f"p{i}" / "snapshot")
            subprocess.run(["btrfs", "receive", "-q", str(d)], input=stream, check=True)
            (d / "info.json").write_text(info(name, uuids[i]))
        (root / "data" / "notes.txt").write_text("mine")
        yield src, dst, root, uuids
    finally:
        src.close()
        dst.close()


def listed(root):
    s = Serve(root)
    try:
        return [c["name"] for c in json.loads(s.ask("LIST data")[3:])["snapshots"]]
    finally:
        s.close()


def receive_third(src, root, uuids):
    stream = send_stream("-p", src.mnt / "p1" / "snapshot", src.mnt / "p2" / "snapshot")
    s = Serve(root)
    try:
        return s.receive("data.20261203T000000Z", uuids[2], stream)
    finally:
        s.close()


def test_plain_volume_directory_is_converted(legacy):
    src, dst, root, uuids = legacy
    before = {n: subvol_uuid(root / "data" / n / "snapshot", "Received UUID") for n in NAMES}
    assert listed(root) == NAMES                  # LIST reads, converts nothing
    assert os.stat(root / "data").st_ino != 256
    r = receive_third(src, root, uuids)
    assert r.startswith("OK "), r
    assert os.stat(root / "data").st_ino == 256   # a subvolume now
    assert listed(root) == NAMES + ["data.20261203T000000Z"]
    for n in NAMES:
        assert subvol_uuid(root / "data" / n / "snapshot", "Received UUID") == before[n]
    for i in range(3):
        assert (root / "data" / "data.20261203T000000Z" / "snapshot" / f"file{i}").read_bytes() \
            == (src.mnt / "p2" / "snapshot" / f"file{i}").read_bytes()
    # What serve did not make stays, in the old directory, named so.
    assert (root / ".snaprotate-convert.data" / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(root / ".snaprotate-convert.data")) == ["notes.txt"]


def test_an_interrupted_conversion_is_finished(legacy):
    src, dst, root, uuids = legacy
    os.unlink(root / "data" / "notes.txt")
    # A crash after the first copy moved: the new subvolume holds it, the old
    # directory still holds the second.
    tmp = root / ".snaprotate-convert.data"
    run("btrfs", "subvolume", "create", tmp)
    (tmp / NAMES[0]).mkdir()
    shutil.copy(root / "data" / NAMES[0] / "info.json", tmp / NAMES[0] / "info.json")
    # (moved as serve moves it: writable for the move, and a crash before it is
    # read-only again)
    set_writable(root / "data" / NAMES[0] / "snapshot")
    os.rename(root / "data" / NAMES[0] / "snapshot", tmp / NAMES[0] / "snapshot")
    r = receive_third(src, root, uuids)
    assert r.startswith("OK "), r
    assert listed(root) == NAMES + ["data.20261203T000000Z"]
    assert not tmp.exists()
    assert os.stat(root / "data").st_ino == 256
    for n in NAMES:
        flags = run("btrfs", "property", "get", root / "data" / n / "snapshot", "ro").stdout
        assert flags.strip() == "ro=true", n
