"""`serve` against a hostile sender: hand-built btrfs send streams (real CRCs,
so `btrfs receive` would act on them) that try to create, write, remove or
read files outside the target's root. Each stream goes through `serve` (both
layers: the stream checker and the confined receive) and, with the checker
left out, through the confined receive alone (tests/tools/receive-tool), and
nothing outside the root may change or be copied in either way."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, Btrfs, Serve, info, run, send_stream, subvol_uuid
from sendstream import Stream

RECEIVE_TOOL = ROOT / "build" / "tests" / "receive-tool"
DOTS = "../" * 40          # more than enough to climb to / from any staging directory
NAME = "data.20261202T000000Z"
NEW_UUID = "11111111-2222-3333-4444-555555555555"


def state(*dirs):
    """Everything under dirs: names, types, modes, sizes, content, xattrs."""
    out = {}
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            for n in dirnames + filenames:
                p = Path(dirpath) / n
                st = p.lstat()
                h = ""
                if p.is_file() and not p.is_symlink():
                    h = hashlib.sha256(p.read_bytes()).hexdigest()
                xattrs = sorted(os.listxattr(p, follow_symlinks=False))
                out[str(p)] = (st.st_mode, st.st_size, st.st_nlink, h, xattrs)
    return out


def holds(tree, secret):
    """Whether any regular file under tree contains secret."""
    for dirpath, _, filenames in os.walk(tree):
        for n in filenames:
            p = Path(dirpath) / n
            if p.is_file() and not p.is_symlink() and secret in p.read_bytes():
                return True
    return False


class World:
    """A target btrfs: root/ (serve's), outside/ (same filesystem, not the
    root's), a subvolume outside the root, a copy in volume 'other', a good
    copy of volume 'data', and host/ on the machine's own filesystem."""

    def __init__(self, tmp_path):
        (tmp_path / "t").mkdir()
        (tmp_path / "s").mkdir()
        self.fs = Btrfs(tmp_path / "t")
        self.src = Btrfs(tmp_path / "s")
        mnt = self.fs.mnt
        self.root = mnt / "backup"
        self.root.mkdir()
        self.outside = mnt / "outside"
        self.outside.mkdir()
        self.secret = os.urandom(8192)
        (self.outside / "secret").write_bytes(self.secret)
        self.outside_subvol = self.fs.subvolume("private")
        (self.outside_subvol / "secret").write_bytes(self.secret)
        self.host = tmp_path / "host"
        self.host.mkdir()
        (self.host / "victim").write_text("keep me")
        self.host_rel = str(self.host).lstrip("/")
        # A real copy of 'data', whose tree holds a symlink that climbs out.
        src = self.src.subvolume("data")
        (src / "f").write_bytes(b"x" * 8192)
        os.symlink("../../../../outside", src / "esc")   # from a copy: up to the mount
        (self.src.mnt / "p").mkdir()
        run("btrfs", "subvolume", "snapshot", "-r", src, self.src.mnt / "p" / "snapshot")
        self.parent_uuid = subvol_uuid(self.src.mnt / "p" / "snapshot")
        self.parent = "data.20261201T000000Z"
        self.other_uuid = self._copy(self.parent, "data", self.src.mnt / "p")
        # The same snapshot as a copy of volume 'other'.
        (self.src.mnt / "q").mkdir()
        run("btrfs", "subvolume", "snapshot", "-r", src, self.src.mnt / "q" / "snapshot")
        self.other_copy_uuid = self._copy("other.20261201T000000Z", "other", self.src.mnt / "q")

    def _copy(self, name, volume, srcdir):
        uuid = subvol_uuid(srcdir / "snapshot")
        stream = send_stream(srcdir / "snapshot")
        s = Serve(self.root)
        try:
            r = s.receive(name, uuid, stream, volume=volume)
            assert r.startswith("OK "), r
        finally:
            s.close()
        return uuid

    def watched(self):
        return state(self.outside, self.outside_subvol, self.host)

    def close(self):
        self.src.close()
        self.fs.close()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.close()


def f_up(w):
    """A path from the received subvolume up to outside/ on the same filesystem."""
    return "../../../../outside"


# Each attack: (id, function(world) -> stream bytes, full stream or on the good parent)
ATTACKS = {
    "write ../ to the host": lambda w: Stream().subvol(NEW_UUID)
        .mkfile(DOTS + w.host_rel + "/x").write(DOTS + w.host_rel + "/x", b"pwned").end(),
    "write ../ beside the root": lambda w: Stream().subvol(NEW_UUID)
        .mkfile(f_up(w) + "/x").write(f_up(w) + "/x", b"pwned").end(),
    "absolute path": lambda w: Stream().subvol(NEW_UUID)
        .mkfile(str(w.host / "x")).write(str(w.host / "x"), b"pwned").end(),
    "symlink, then write through it": lambda w: Stream().subvol(NEW_UUID)
        .symlink("lnk", str(w.host)).mkfile("lnk/f").write("lnk/f", b"pwned").end(),
    "symlink, then write into it": lambda w: Stream().subvol(NEW_UUID)
        .symlink("lnk", str(w.host / "victim")).write("lnk", b"pwned").end(),
    "symlink, renamed, then written through": lambda w: Stream().subvol(NEW_UUID)
        .symlink("o1", str(w.host)).mkdir("d").rename("o1", "d/l").mkfile("d/l/f")
        .write("d/l/f", b"pwned").end(),
    "unlink ../": lambda w: Stream().subvol(NEW_UUID).unlink(f_up(w) + "/secret").end(),
    "unlink ../ on the host": lambda w: Stream().subvol(NEW_UUID)
        .unlink(DOTS + w.host_rel + "/victim").end(),
    "clone ../ from itself": lambda w: Stream().subvol(NEW_UUID).mkfile("f")
        .clone("f", NEW_UUID, f_up(w) + "/secret", 8192).end(),
    "rename out": lambda w: Stream().subvol(NEW_UUID).mkfile("f").write("f", b"pwned")
        .rename("f", f_up(w) + "/moved").end(),
    "rename in": lambda w: Stream().subvol(NEW_UUID)
        .rename(f_up(w) + "/secret", "stolen").end(),
    "link out": lambda w: Stream().subvol(NEW_UUID).mkfile("f")
        .link(f_up(w) + "/hardlink", "f").end(),
    "link in": lambda w: Stream().subvol(NEW_UUID)
        .link("stolen", f_up(w) + "/secret").end(),
    "xattr ../": lambda w: Stream().subvol(NEW_UUID)
        .set_xattr(f_up(w) + "/secret", "user.pwned", "1").end(),
    "truncate ../": lambda w: Stream().subvol(NEW_UUID).truncate(f_up(w) + "/secret", 0).end(),
    "chmod through a symlink": lambda w: Stream().subvol(NEW_UUID)
        .symlink("s", str(w.outside / "secret")).chmod("s", 0o4777).end(),
    "subvolume placed ../": lambda w: Stream().subvol(NEW_UUID, path=f_up(w) + "/sub")
        .mkfile("f").end(),
    "subvolume of another name": lambda w: Stream().subvol(NEW_UUID, path="other").end(),
    "snapshot of a subvolume outside the root": lambda w: Stream()
        .snapshot(NEW_UUID, subvol_uuid(w.outside_subvol)).end(),
    "snapshot of another volume's copy": lambda w: Stream()
        .snapshot(NEW_UUID, w.other_copy_uuid).end(),
    "clone from a subvolume outside the root": lambda w: Stream().subvol(NEW_UUID).mkfile("f")
        .clone("f", subvol_uuid(w.outside_subvol), "secret", 8192).end(),
    "clone through a symlink of the parent copy": lambda w: Stream()
        .snapshot(NEW_UUID, w.parent_uuid).mkfile("g")
        .clone("g", w.parent_uuid, "esc/secret", 8192).end(),
    "clone ../ from the parent copy": lambda w: Stream()
        .snapshot(NEW_UUID, w.parent_uuid).mkfile("g")
        .clone("g", w.parent_uuid, f_up(w) + "/secret", 8192).end(),
}


def staging_of(w, name=NAME, volume="data"):
    return w.root / volume / f".incoming.{name}"


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_serve_refuses_and_nothing_outside_changes(world, attack):
    w = world
    before = w.watched()
    stream = ATTACKS[attack](w).bytes()
    s = Serve(w.root)
    try:
        r = s.receive(NAME, NEW_UUID, stream)
        assert r.startswith("ERR "), r
        assert "refused" in r or os.environ.get("NO_REFUSED"), r
        assert s.ask("INFO").startswith("OK "), "still in step"
        listed = json.loads(s.ask("LIST data")[3:])["snapshots"]
    finally:
        s.close()
    assert w.watched() == before
    assert [c["name"] for c in listed] == [w.parent]
    assert sorted(os.listdir(w.root / "data")) == [".lock", w.parent]
    assert not holds(w.root, w.secret)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_confined_receive_alone_holds(world, attack):
    """The second layer without the first: btrfs receive gets the stream as is."""
    w = world
    before = w.watched()
    stream = ATTACKS[attack](w).bytes()
    dest = staging_of(w)
    dest.mkdir()
    argv = [str(RECEIVE_TOOL), str(dest), str(w.root / "data")]
    r = subprocess.run(argv, input=stream, capture_output=True)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert "cannot confine" not in out, out
    assert w.watched() == before, out
    assert not holds(w.root, w.secret), out
    # Whatever it made stays below the staging directory.
    for p in (w.fs.mnt, w.root, w.root / "data"):
        assert not (p / "x").exists() and not (p / "sub").exists()


def test_volume_directories_are_subvolumes(world):
    for v in ("data", "other"):
        assert os.stat(world.root / v).st_ino == 256


def test_a_clean_incremental_stream_is_received(world):
    """The checker and the confinement let a real incremental stream through."""
    w = world
    src = w.src.mnt / "data"
    (src / "g").write_bytes(b"y" * 100000)
    run("cp", "--reflink=always", src / "f", src / "f2")
    (w.src.mnt / "n").mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", src, w.src.mnt / "n" / "snapshot")
    uuid = subvol_uuid(w.src.mnt / "n" / "snapshot")
    stream = send_stream("-p", w.src.mnt / "p" / "snapshot", w.src.mnt / "n" / "snapshot")
    s = Serve(w.root)
    try:
        r = s.receive(NAME, uuid, stream)
        assert r.startswith("OK "), r
    finally:
        s.close()
    copy = w.root / "data" / NAME / "snapshot"
    assert (copy / "g").read_bytes() == b"y" * 100000
    assert os.readlink(copy / "esc") == "../../../../outside"
    assert subvol_uuid(copy, "Received UUID") == uuid
    assert subvol_uuid(copy, "Parent UUID") == subvol_uuid(
        w.root / "data" / w.parent / "snapshot")


def test_a_received_uuid_held_elsewhere_is_not_a_parent(world):
    """A subvolume outside the root received as the same snapshot as the good
    copy: btrfs receive would take whichever the filesystem lists first, so
    serve refuses to use that uuid as a parent at all."""
    w = world
    # Remove the good copy, receive the same snapshot outside the root, then again inside.
    s = Serve(w.root)
    try:
        assert s.ask(f"DELETE data {w.parent}").startswith("OK ")
    finally:
        s.close()
    stream = send_stream(w.src.mnt / "p" / "snapshot")
    elsewhere = w.fs.mnt / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(["btrfs", "receive", "-q", str(elsewhere)], input=stream, check=True)
    s = Serve(w.root)
    try:
        assert s.receive(w.parent, w.parent_uuid, stream).startswith("OK ")
        r = s.receive(NAME, NEW_UUID, Stream().snapshot(NEW_UUID, w.parent_uuid).end().bytes())
        assert r.startswith("ERR ") and "another subvolume of this filesystem" in r, r
    finally:
        s.close()
    assert sorted(os.listdir(w.root / "data")) == [".lock", w.parent]
