"""restore of a btrfs volume from a file:// and an ssh:// target onto a new filesystem
(disaster recovery, SPEC 2): the copy comes back through the same checked, confined
receive that serve runs, and --to becomes a writable subvolume with its info.json."""
import json
import os
import subprocess

import pytest

from conftest import BINARY, Btrfs, run, wait_until
from test_send import (Sshd, configure, find_procs, subvol_show, target_fs,  # noqa: F401
                       tree_digest, write_random)


@pytest.fixture
def newfs(tmp_path):
    base = tmp_path / "new"
    base.mkdir()
    fs = Btrfs(base)
    try:
        yield fs
    finally:
        fs.close()


def lose_the_source(env):
    run("umount", env.fs.mnt)
    env.fs.mounted = False


@pytest.mark.parametrize("via", ["file", "ssh"])
def test_restore_onto_a_new_filesystem(env, target_fs, newfs, tmp_path, via):
    sshd = Sshd(tmp_path, target_fs.mnt / "backup") if via == "ssh" else None
    try:
        configure(env, target_fs, sshd, tgt_retain="retain = hourly=24\n")
        (env.data / "etc").mkdir()
        (env.data / "etc/fstab").write_text("UUID=x / btrfs subvol=@ 0 0\n")
        write_random(env.data / "big", 64)
        for i in range(300):
            (env.data / f"f{i}").write_text(str(i) * i)
        os.symlink("etc/fstab", env.data / "link")
        env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T10:00:00Z")
        (env.data / "later").write_text("after the first\n")
        env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T11:00:00Z")
        want = {n: tree_digest(env.snapdir / n / "snapshot")
                for n in ("data.20261127T100000Z", "data.20261127T110000Z")}
        env.ok("send", "data")
        lose_the_source(env)
        to = newfs.mnt / "@"
        r = env.ok("restore", "data", "20261127T10", "--to", to)
        assert f"data: data.20261127T100000Z restored into {to}" in r.stdout, r.stdout
        assert tree_digest(to) == want["data.20261127T100000Z"]
        info = json.loads((newfs.mnt / "@.info.json").read_text())
        assert info["name"] == "data.20261127T100000Z" and info["volume"] == "data"
        assert subvol_show(to)["Flags"] == "-"          # writable
        (to / "new").write_text("writable\n")
        # Nothing else is left beside it.
        assert sorted(os.listdir(newfs.mnt)) == ["@", "@.info.json"]
        r = env.ok("--json", "restore", "data", "latest", "--to", newfs.mnt / "home")
        doc = json.loads(r.stdout)
        assert doc["snapshot"] == "data.20261127T110000Z" and doc["success"] is True, doc
        assert tree_digest(newfs.mnt / "home") == want["data.20261127T110000Z"]
    finally:
        if sshd:
            sshd.stop()


def test_restore_refuses_a_wrong_to_before_asking_the_target(env, target_fs, newfs, tmp_path):
    configure(env, target_fs)
    env.ok("snapshot", "data")
    env.ok("send", "data")
    (newfs.mnt / "taken").mkdir()
    for to, why in ((newfs.mnt / "taken", "exists already"),
                    ("relative/path", "expected the absolute path"),
                    (tmp_path / "ext4-here", "is not on btrfs"),
                    (newfs.mnt / "no/such/dir", "does not exist")):
        r = env.run("restore", "data", "latest", "--to", to)
        assert r.returncode == 2 and why in r.stderr, (to, r.stderr)
    assert sorted(os.listdir(newfs.mnt)) == ["taken"]


def test_an_interrupted_restore_leaves_nothing_that_looks_complete(env, target_fs, newfs):
    configure(env, target_fs)
    write_random(env.data / "big", 400)
    env.ok("snapshot", "data")
    env.ok("send", "data")
    to = newfs.mnt / "@"
    p = subprocess.Popen([str(BINARY), "-c", str(env.conf), "restore", "data", "latest",
                          "--to", str(to)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = newfs.mnt / ".snaprotate-restore" / "data"
    wait_until(lambda: p.poll() is not None or
               (store.exists() and any(n.startswith(".incoming.") for n in os.listdir(store))),
               timeout=60, what="the restore to start receiving")
    assert p.poll() is None, p.communicate()
    p.kill()
    p.wait()
    assert not to.exists() and not (newfs.mnt / "@.info.json").exists()
    # Its serve processes (the target's and the local one) see it gone, and end.
    # (By their --root: under valgrind the command line starts with valgrind.)
    roots = (str(target_fs.mnt), str(newfs.mnt))
    wait_until(lambda: not find_procs(lambda c: "serve" in c and
                                      any(a.startswith(roots) for a in c)),
               timeout=60, what="the orphaned serve processes to end")
    # The next restore cleans up after it and succeeds.
    env.ok("restore", "data", "latest", "--to", to)
    assert tree_digest(to) == tree_digest(env.snapdir / env.names()[-1] / "snapshot")
    assert sorted(os.listdir(newfs.mnt)) == ["@", "@.info.json"]


def test_a_restore_that_fails_after_the_receive_leaves_nothing_and_can_be_retried(
        env, target_fs, newfs):
    """Placing the copy fails once the whole stream was received (here: a directory
    planted where TO.info.json is written first). Nothing is left (not the received
    copy in the store either, which made every later restore of it fail with
    "File exists"), and the next restore succeeds."""
    configure(env, target_fs)
    write_random(env.data / "big", 8)
    env.ok("snapshot", "data")
    env.ok("send", "data")
    to = newfs.mnt / "@"
    planted = newfs.mnt / ".@.info.json.tmp"
    planted.mkdir()
    r = env.run("restore", "data", "latest", "--to", to)
    assert r.returncode == 1 and "cannot write" in r.stderr, r.stderr
    assert sorted(os.listdir(newfs.mnt)) == [".@.info.json.tmp"]
    planted.rmdir()
    env.ok("restore", "data", "latest", "--to", to)
    assert tree_digest(to) == tree_digest(env.snapdir / env.names()[-1] / "snapshot")
    assert sorted(os.listdir(newfs.mnt)) == ["@", "@.info.json"]
    show = subvol_show(to)
    assert show["Flags"] == "-" and show["Received UUID"] == "-", show


def tree_state(root):
    """Names, types, owners and modes of everything under root (subvolumes too)."""
    out = []
    for d, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            st = os.lstat(os.path.join(d, n))
            out.append((os.path.relpath(os.path.join(d, n), root), st.st_mode, st.st_uid,
                        st.st_ino))
    return sorted(out)


@pytest.mark.parametrize("planted", ["symlink", "another's"])
def test_restore_refuses_a_store_it_did_not_make(env, target_fs, newfs, planted):
    """The store beside --to (.snaprotate-restore), found there already: a symlink to a
    directory elsewhere, or a directory another user owns (who could then swap what it
    holds while restore deletes, moves and writes there by name). Refused before the
    target is asked; nothing it leads to changes, and nothing is restored."""
    configure(env, target_fs)
    env.ok("snapshot", "data")
    env.ok("send", "data")
    store = newfs.mnt / ".snaprotate-restore"
    outside = newfs.mnt / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious\n")
    run("btrfs", "subvolume", "create", outside / "data")
    if planted == "symlink":
        os.symlink(outside, store)
    else:
        store.mkdir(mode=0o700)
        os.chown(store, 65534, 65534)
    before = tree_state(outside), tree_state(store)
    r = env.run("restore", "data", "latest", "--to", newfs.mnt / "@")
    assert r.returncode == 1 and "is in the way" in r.stderr and "remove it" in r.stderr, r.stderr
    assert (tree_state(outside), tree_state(store)) == before
    assert sorted(os.listdir(newfs.mnt)) == [".snaprotate-restore", "outside"]


@pytest.mark.parametrize("where", ["world-writable", "sticky", "group-writable", "another's",
                                   "above it another's"])
def test_restore_refuses_a_to_whose_directory_others_can_write(env, target_fs, newfs, where):
    """Whoever can write --to's directory (or any directory above it but a sticky one)
    could plant the store, or swap the path restore hands its local serve: refused as a
    wrong --to (exit 2), before the target is asked, with nothing made there."""
    configure(env, target_fs)
    env.ok("snapshot", "data")
    env.ok("send", "data")
    top = newfs.mnt / "shared"
    top.mkdir()
    parent = top
    if where == "world-writable":
        os.chmod(top, 0o777)
    elif where == "sticky":
        os.chmod(top, 0o1777)
    elif where == "group-writable":
        os.chmod(top, 0o775)
    elif where == "another's":
        os.chown(top, 65534, 65534)
    else:
        os.chown(top, 65534, 65534)
        parent = top / "root-owned"
        parent.mkdir()
    r = env.run("restore", "data", "latest", "--to", parent / "@")
    assert r.returncode == 2, r.stderr
    assert "must be owned by root and not writable by group or others" in r.stderr, r.stderr
    assert f"'{top}'" in r.stderr, r.stderr
    assert os.listdir(parent) == []
