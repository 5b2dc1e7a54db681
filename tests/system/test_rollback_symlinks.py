"""rollback of a btrfs volume never follows a symlink planted in the volume's content,
in its snapshot directory or beside it (audit F1, F2, F8): the nested subvolumes are
carried from directory fds opened without symlinks, the snapshot rolled back to is
opened from the snapshot directory's fd and must be the subvolume listed (its uuid),
and a rollback journal or hidden subvolume that is not snaprotate's own is not acted
on. Each refusal says what it refused and leaves everything as it was."""
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run, subvol_uuid, wait_until

FAULTS = Path(os.environ.get("SNAPROTATE_FAULTS", ROOT / "build" / "faults" / "snaprotate"))
T = ["2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z", "2026-11-27T12:00:00Z"]


@pytest.fixture
def vol(vol):
    """conftest's nested volume, with a state file to tell its contents apart."""
    (vol.data / "state").write_text("A\n")
    return vol


def listing(root, skip=()):
    """Every name under @root (not following symlinks, into nested subvolumes) with its
    type, whether it is a subvolume, and its content or link target."""
    root = Path(root)
    out = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        here = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(here, d)) not in skip]
        for n in dirnames + filenames:
            p = Path(dirpath, n)
            st = p.lstat()
            rel = os.path.normpath(os.path.join(here, n))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("subvol" if st.st_ino == 256 else "dir",)
            else:
                out[rel] = ("file", p.read_bytes())
    return out


def outside_the_volume(btrfs, *more):
    """What a rollback of 'data' has no business changing."""
    return [listing(btrfs.mnt, skip={"data"})] + [listing(m) for m in more]


def inside_the_volume(env):
    return listing(env.data, skip={".snapshots"})


def take(env, when=T[0]):
    return env.ok("snapshot", "data", "--now", when).stdout.strip()


def needs_faults():
    # check-asan's `make asan` cleans build/, the fault build with it.
    if not FAULTS.exists() and os.environ.get("SANITIZED_BUILD") == "1":
        pytest.skip(f"{FAULTS} is not built in a sanitized run")
    assert FAULTS.exists(), f"{FAULTS} is missing: make build/faults/snaprotate"


def fx_env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SNAPROTATE_")}
    e.update(extra)
    return e


def wchan(pid):
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


class Paused:
    """The test build, its fault log a FIFO: fault_point() opens the log for writing, so
    the process waits at its first point until the FIFO has a reader. For a rollback
    that is snapshot.begin, the snapshot of the state before: after the target was
    listed, before the backend's rollback opens it."""

    def __init__(self, env, tmp_path, *args):
        needs_faults()
        self.fifo = tmp_path / "points"
        os.mkfifo(self.fifo)
        self.p = subprocess.Popen([str(FAULTS), "-c", str(env.conf), *map(str, args)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=fx_env(SNAPROTATE_FAULT_LOG=str(self.fifo)))
        wait_until(lambda: self.p.poll() is not None or wchan(self.p.pid) == "wait_for_partner",
                   what="the rollback to wait at its first fault point")
        assert self.p.poll() is None, self.p.communicate()

    def resume(self):
        """Lets it run to its end (the reader stays open: no point waits again)."""
        fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            out, err = self.p.communicate(timeout=120)
        finally:
            os.close(fd)
        return self.p.returncode, out + err


# --- F1: nested subvolumes are carried through directory fds, never a symlink ---

@pytest.mark.parametrize("link", ["../../outside", "../../../outside", "elsewhere"])
def test_a_symlink_in_the_target_on_a_nested_subvolumes_path_is_refused(vol, btrfs, tmp_path,
                                                                         link):
    """Alice's ~/x was a symlink (into the new root's /outside, beside the volume, or to
    another filesystem) when the snapshot was taken; now it is a directory holding her
    subvolume sbin. Carrying sbin over must not go through her old symlink: the rollback
    refuses, names the path, and nothing inside or outside the volume changes."""
    env = vol
    alice = env.data / "home/alice"
    alice.mkdir(parents=True)
    (env.data / "outside/sbin").mkdir(parents=True)        # the new root's own, empty
    (btrfs.mnt / "outside/sbin").mkdir(parents=True)       # beside the volume, empty
    elsewhere = tmp_path / "elsewhere"                     # another filesystem
    (elsewhere / "sbin").mkdir(parents=True)
    (alice / "x").symlink_to(elsewhere if link == "elsewhere" else link)
    a = take(env)
    (alice / "x").unlink()
    (alice / "x").mkdir()
    run("btrfs", "subvolume", "create", alice / "x/sbin")
    (alice / "x/sbin/tool").write_text("alice's\n")
    (env.data / "state").write_text("B\n")
    inside, outside = inside_the_volume(env), outside_the_volume(btrfs, elsewhere)
    assert inside["home/alice/x/sbin"] == ("subvol",)

    r = env.run("rollback", "data", a, "--now", T[1])
    said = r.stdout + r.stderr
    assert outside_the_volume(btrfs, elsewhere) == outside, said
    assert inside_the_volume(env) == inside, said
    assert not [n for n in os.listdir(btrfs.mnt) if ".rollback" in n]
    assert r.returncode != 0, said
    assert "'home/alice/x' is a symlink in " + a in said, said
    # The history stays, and a rollback without the trap still works.
    assert a in env.names()
    (alice / "x/sbin/tool").unlink()
    run("btrfs", "subvolume", "delete", alice / "x/sbin")
    env.ok("rollback", "data", a, "--now", T[2])
    assert (env.data / "state").read_text() == "A\n"
    assert (env.data / "home/alice/x").is_symlink()
    assert (env.data / "var/lib/docker/image").read_text() == "a container image\n"
    assert (env.data / "outside/sbin").is_dir() and (btrfs.mnt / "outside/sbin").is_dir()
    assert (elsewhere / "sbin").is_dir()


def killed_at(env, point, *args):
    needs_faults()
    r = subprocess.run([str(FAULTS), "-c", str(env.conf), *map(str, args)], capture_output=True,
                       text=True, env=fx_env(SNAPROTATE_FAULT=point))
    assert r.returncode == -9, (point, r.returncode, r.stdout, r.stderr)


def test_a_symlink_in_the_volume_is_not_followed_to_carry_back(vol, btrfs):
    """A kill after the nested subvolumes were carried into the new subvolume leaves the
    undo to the next run. Alice's ~/x in the volume, emptied by the carry, is now a
    symlink to root's /srv/tools: carrying her sbin back must not put it there. The run
    says why it leaves the rollback as it is; once ~/x is a directory again, it is undone."""
    env = vol
    (env.data / "home/alice/x").mkdir(parents=True)
    a = take(env)
    run("btrfs", "subvolume", "create", env.data / "home/alice/x/sbin")
    (env.data / "home/alice/x/sbin/tool").write_text("alice's\n")
    (env.data / "state").write_text("B\n")
    want = inside_the_volume(env)
    tools = btrfs.mnt / "srv/tools"
    tools.mkdir(parents=True)
    # docker, .snapshots, alice's sbin: killed once all three are in the new subvolume.
    killed_at(env, "rollback.carried@3", "rollback", "data", a, "--now", T[1])
    journal = json.loads((btrfs.mnt / ".data.rollback.json").read_text())
    assert sorted(journal["nested"]) == [".snapshots", "home/alice/x/sbin", "var/lib/docker"]
    assert not (env.data / "home/alice/x/sbin").exists()
    os.rename(env.data / "home/alice/x", env.data / "home/alice/x.real")
    (env.data / "home/alice/x").symlink_to("../../../srv/tools")
    outside = listing(tools)

    r = env.run("run", "--now", T[1])
    said = r.stdout + r.stderr
    assert listing(tools) == outside, said
    assert ".data.rollback.json" in os.listdir(btrfs.mnt)
    assert r.returncode != 0, said
    assert "cannot carry the nested subvolume 'home/alice/x/sbin' back: 'home/alice/x' is a " \
        "symlink" in said, said
    assert os.lstat(btrfs.mnt / ".data.rollback-new/home/alice/x/sbin").st_ino == 256
    # Put right, the next run undoes the rollback: everything back where it was.
    (env.data / "home/alice/x").unlink()
    os.rename(env.data / "home/alice/x.real", env.data / "home/alice/x")
    r = env.ok("run", "--now", T[2])
    assert "was undone" in r.stdout + r.stderr, r.stdout + r.stderr
    assert inside_the_volume(env) == want
    assert not [n for n in os.listdir(btrfs.mnt) if ".rollback" in n]
    assert listing(tools) == outside


# --- F2: the snapshot rolled back to is the one listed, opened without symlinks ---

def swap_target(env, btrfs, a, how):
    """Puts another subvolume (root's 'other', content "OTHER") where a's was."""
    other = btrfs.mnt / "other"
    snap = env.snapdir / a / "snapshot"
    if how == "NAME/snapshot a symlink":
        os.rename(snap, env.snapdir / a / "kept")
        snap.symlink_to(other)
    elif how == "NAME a symlink":
        os.rename(env.snapdir / a, env.snapdir / "kept")
        (btrfs.mnt / "fake").mkdir()
        os.symlink(other, btrfs.mnt / "fake/snapshot")
        (btrfs.mnt / "fake/info.json").write_bytes((env.snapdir / "kept/info.json").read_bytes())
        (env.snapdir / a).symlink_to(btrfs.mnt / "fake")
    else:
        os.rename(snap, env.snapdir / a / "kept")
        run("btrfs", "subvolume", "snapshot", "-r", other, snap)


@pytest.mark.parametrize("how", ["NAME/snapshot a symlink", "NAME a symlink",
                                 "NAME/snapshot another subvolume"])
def test_the_target_swapped_after_the_listing_is_refused(vol, btrfs, tmp_path, how):
    """Between the listing and the snapshot of the target, NAME/snapshot (or NAME) is
    swapped for a symlink to another subvolume, or for another subvolume: the rollback
    refuses, and the volume keeps its content. A symlink there before the rollback
    starts is refused by the listing already; so the swap happens while the rollback
    waits at its first fault point (the snapshot of the state before)."""
    env = vol
    a = take(env)
    (env.data / "state").write_text("B\n")
    run("btrfs", "subvolume", "create", btrfs.mnt / "other")
    (btrfs.mnt / "other/state").write_text("OTHER\n")
    want = inside_the_volume(env)
    paused = Paused(env, tmp_path, "rollback", "data", a, "--now", T[1])
    swap_target(env, btrfs, a, how)
    code, said = paused.resume()
    assert (env.data / "state").read_text() == "B\n", said
    assert inside_the_volume(env) == want, said
    assert (btrfs.mnt / "other/state").read_text() == "OTHER\n"
    assert not [n for n in os.listdir(btrfs.mnt) if ".rollback" in n]
    assert code != 0, said
    if how == "NAME/snapshot another subvolume":
        assert f"is subvolume {subvol_uuid(env.snapdir / a / 'snapshot')}, not " in said, said
    else:
        assert f"{a}/snapshot' is or passes through a symlink" in said, said


# --- F8: a journal or hidden subvolume that is not snaprotate's is not acted on ---

def plant(env, btrfs, how):
    """A journal beside the volume that would have its undo carry a subvolume of the
    planter's (usr/local/sbin in a hidden .data.rollback-new) into the volume."""
    hidden = btrfs.mnt / ".data.rollback-new"
    run("btrfs", "subvolume", "create", hidden)
    (hidden / "usr/local").mkdir(parents=True)
    run("btrfs", "subvolume", "create", hidden / "usr/local/sbin")
    (hidden / "usr/local/sbin/sudo").write_text("#!/bin/sh\n# not sudo\n")
    journal = btrfs.mnt / ".data.rollback.json"
    journal.write_text(json.dumps({"format": 1, "target": "data.20261127T100000Z",
                                   "old_uuid": subvol_uuid(env.data),
                                   "new_uuid": subvol_uuid(hidden),
                                   "nested": ["usr/local/sbin"]}))
    os.chmod(journal, 0o600)
    if how == "owned by a user":
        for p in (journal, hidden, hidden / "usr/local/sbin"):
            os.chown(p, 1000, 1000)
    else:
        os.link(journal, btrfs.mnt / "a-link")
    return journal, hidden


@pytest.mark.parametrize("how", ["owned by a user", "linked twice"])
@pytest.mark.parametrize("verb", ["run", "rollback"])
def test_a_planted_journal_is_not_acted_on(vol, btrfs, how, verb):
    env = vol
    a = take(env)
    (env.data / "state").write_text("B\n")
    journal, hidden = plant(env, btrfs, how)
    want, outside = inside_the_volume(env), outside_the_volume(btrfs)
    args = ["run"] if verb == "run" else ["rollback", "data", a]
    r = env.run(*args, "--now", T[1])
    said = r.stdout + r.stderr
    assert not (env.data / "usr").exists(), said
    assert (hidden / "usr/local/sbin/sudo").exists(), said
    assert outside_the_volume(btrfs) == outside, said
    assert inside_the_volume(env) == want, said
    assert r.returncode != 0, said
    assert f"'{journal}' is not a rollback journal of snaprotate's" in said, said


def test_a_hidden_subvolume_swapped_for_a_symlink_is_not_acted_on(vol, btrfs):
    """After a kill mid-carry, .data.rollback-new is made a symlink to another tree that
    holds subvolumes at the nested paths: the undo takes nothing from it."""
    env = vol
    a = take(env)
    (env.data / "state").write_text("B\n")
    killed_at(env, "rollback.carried@1", "rollback", "data", a, "--now", T[1])
    journal = json.loads((btrfs.mnt / ".data.rollback.json").read_text())
    hidden = btrfs.mnt / ".data.rollback-new"
    os.rename(hidden, btrfs.mnt / "kept")
    decoy = btrfs.mnt / "decoy"
    for rel in journal["nested"]:
        (decoy / rel).parent.mkdir(parents=True, exist_ok=True)
        run("btrfs", "subvolume", "create", decoy / rel)
        (decoy / rel / "decoy").write_text("not yours\n")
    hidden.symlink_to(decoy)
    before = listing(decoy)
    r = env.run("run", "--now", T[1])
    said = r.stdout + r.stderr
    assert listing(decoy) == before, said
    assert not list(env.data.rglob("decoy")), said
    assert r.returncode != 0, said
    assert f"'{hidden}' is not the subvolume the rollback journal" in said, said
