"""rollback of a btrfs volume whose subvolume is not a mount point (SPEC 7): a writable
snapshot of the target takes the volume's place by one RENAME_EXCHANGE, the subvolumes
nested in it (the snapshot directory, /var/lib/docker) are carried over, the state
before is kept (pinned until the next successful run), and a SIGKILL at any step is
completed or undone by the next run."""
import hashlib
import os
import subprocess
from pathlib import Path

from conftest import BINARY, run

NESTED = ("var/lib/docker", ".snapshots")


def digest(root):
    """Names, types and content under @root, leaving out the nested subvolumes."""
    h = hashlib.sha256()
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if os.path.normpath(os.path.join(rel, d))
                             not in NESTED)
        for n in sorted(filenames):
            p = Path(dirpath) / n
            h.update(f"{p.relative_to(root)}\n".encode())
            h.update(p.read_bytes() if not p.is_symlink() else os.readlink(p).encode())
        for d in dirnames:
            h.update(f"{Path(dirpath, d).relative_to(root)}/\n".encode())
    return h.hexdigest()


def state(data, which):
    for n in ("a", "b", "c"):
        (data / n).unlink(missing_ok=True)
    if which == "A":
        (data / "a").write_text("alpha\n")
        (data / "b").write_text("beta\n")
    else:
        (data / "b").write_text("BETA, changed\n")
        (data / "c").write_text("gamma, new\n")


def take_a_and_b(env):
    state(env.data, "A")
    a = env.ok("snapshot", "data", "--now", "2026-11-27T10:00:00Z").stdout.strip()
    want_a = digest(env.data)
    state(env.data, "B")
    want_b = digest(env.data)
    return a, want_a, want_b


def test_rollback_and_back_again(vol):
    env = vol
    a, want_a, want_b = take_a_and_b(env)
    assert want_a != want_b
    r = env.ok("rollback", "data", a, "--now", "2026-11-27T11:00:00Z")
    assert digest(env.data) == want_a
    assert (env.data / "var/lib/docker/image").read_text() == "a container image\n"
    assert os.stat(env.data / "var/lib/docker").st_ino == 256
    # The history moved with the volume: every snapshot, and the state before.
    snaps = {s["name"]: s for s in env.snaps()}
    saved = "data.20261127T110000Z"
    assert set(snaps) == {a, saved}, snaps
    assert snaps[saved]["description"] == f"before rollback to {a}" and snaps[saved]["pinned"]
    assert digest(env.snapdir / saved / "snapshot") == want_b
    assert not [p for p in os.listdir(env.data.parent) if ".rollback" in p]
    assert "took data.20261127T110000Z" in r.stdout, r.stdout
    # Roll back the rollback.
    env.ok("rollback", "data", saved, "--now", "2026-11-27T12:00:00Z")
    assert digest(env.data) == want_b
    assert (env.data / "var/lib/docker/image").read_text() == "a container image\n"
    # The next successful run releases the pins of the states before.
    r = env.ok("run", "--now", "2026-11-27T13:00:00Z")
    assert f"unpinned {saved}" in r.stdout + r.stderr, r.stdout + r.stderr
    assert not any(s["pinned"] for s in env.snaps())


def test_dry_run_says_each_step_and_changes_nothing(vol):
    env = vol
    a, want_a, want_b = take_a_and_b(env)
    before = env.names()
    r = env.ok("rollback", "--dry-run", "data", a)
    assert "pinned until the next successful run" in r.stdout, r.stdout
    assert "carry over the subvolumes nested in it (.snapshots, var/lib/docker)" in r.stdout \
        or "carry over the subvolumes nested in it (var/lib/docker, .snapshots)" in r.stdout, r.stdout
    assert "RENAME_EXCHANGE" in r.stdout
    assert digest(env.data) == want_b and env.names() == before


def test_a_mounted_volume_holds_the_snapshot_from_its_next_mount(env, btrfs, tmp_path):
    """A volume that is a mount point (the running root, /home mounted with subvol=):
    swapped in the filesystem's top level, so the next mount (boot) holds the snapshot;
    the old subvolume stays while mounted, and the first run after goes without it."""
    mnt, again = tmp_path / "m", tmp_path / "again"
    mnt.mkdir()
    again.mkdir()
    run("mount", "-o", "subvol=data", btrfs.loop, mnt)
    try:
        env.conf.write_text(env.conf.read_text().replace(f"path = {env.data}", f"path = {mnt}"))
        (mnt / "state").write_text("A\n")
        a = env.ok("snapshot", "data", "--now", "2026-11-27T10:00:00Z").stdout.strip()
        (mnt / "state").write_text("B\n")
        r = env.ok("rollback", "--json", "data", a, "--now", "2026-11-27T11:00:00Z")
        assert __import__("json").loads(r.stdout)["result"] == "at next activation", r.stdout
        assert (mnt / "state").read_text() == "B\n"          # the running mount: unchanged
        run("mount", "-o", "subvol=data", btrfs.loop, again)  # the next boot's
        try:
            assert (again / "state").read_text() == "A\n"
        finally:
            run("umount", again)
        assert ".data.rollback-new" in os.listdir(btrfs.mnt)
        r = env.ok("run", "--now", "2026-11-27T11:30:00Z")
        assert "still mounted" in r.stdout + r.stderr, r.stdout + r.stderr
    finally:
        run("umount", mnt)
    # "Rebooted": mounted again by name, the new content; the first run deletes the old one.
    run("mount", "-o", "subvol=data", btrfs.loop, mnt)
    try:
        assert (mnt / "state").read_text() == "A\n"
        r = env.ok("run", "--now", "2026-11-27T12:00:00Z")
        assert "rollback to data.20261127T100000Z was completed" in r.stdout + r.stderr, r.stdout
        assert not [n for n in os.listdir(btrfs.mnt) if ".rollback" in n]
        assert "data.20261127T110000Z" in env.names()      # the state before, kept
    finally:
        run("umount", mnt)


MUTATING = {"ioctl", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
            "unlink", "unlinkat", "fsync", "write", "openat", "fchmod", "chmod"}


def test_kill_at_every_step(vol, tmp_path):
    """SIGKILL at every changing system call of a rollback, then a run: the volume is
    the old content or the new, never missing; nothing nested and no snapshot is lost."""
    env = vol
    a, want_a, want_b = take_a_and_b(env)
    argv = ["-c", str(env.conf), "rollback", "data", a, "--now", "2026-11-27T11:00:00Z"]
    trace = tmp_path / "trace"
    scratch = env.data.parent / "scratch"
    run("btrfs", "subvolume", "snapshot", env.data, scratch)   # to reset from
    run("btrfs", "subvolume", "delete", scratch / ".snapshots", check=False)
    subprocess.run(["strace", "-f", "-qq", "-o", str(trace), str(BINARY), *argv], check=True,
                   capture_output=True)
    seen, points = {}, []
    for line in trace.read_text().splitlines():
        name = line.split(None, 1)[1].split("(", 1)[0] if " " in line else ""
        if name.isidentifier():
            seen[name] = seen.get(name, 0) + 1
            if name in MUTATING:
                points.append((name, seen[name]))
    # Undo the traced rollback: back to state B by rolling back to the saved state.
    env.ok("rollback", "data", "data.20261127T110000Z", "--now", "2026-11-27T11:30:00Z")
    assert digest(env.data) == want_b
    base = set(env.names())
    after_lock = [n for n, _ in points].index("openat")
    killed = 0
    for name, nth in points[after_lock:]:
        r = subprocess.run(["strace", "-f", "-o", "/dev/null", "-e", f"trace={name}", "-e",
                            f"inject={name}:signal=KILL:when={nth}", str(BINARY), *argv],
                           capture_output=True, text=True)
        killed += r.returncode != 0
        r2 = env.run("run", "--now", "2026-11-27T11:40:00Z")
        assert r2.returncode == 0, (name, nth, r2.stderr)
        got = digest(env.data)
        assert got in (want_a, want_b), (name, nth)
        assert (env.data / "var/lib/docker/image").read_text() == "a container image\n", (name, nth)
        assert base <= set(env.names()), (name, nth, env.names())
        assert all(s["complete"] for s in env.snaps()), (name, nth)
        assert not [p for p in os.listdir(env.data.parent) if ".rollback" in p], (name, nth)
        # Back to B, with exactly the snapshots of before, for the next kill.
        if got == want_a:
            saved = [s["name"] for s in env.snaps()
                     if s["description"].startswith("before rollback to") and s["name"] not in base]
            env.ok("rollback", "data", saved[-1], "--now", "2026-11-27T11:50:00Z")
        for n in set(env.names()) - base:
            env.ok("delete", "--force", "data", n)
        assert digest(env.data) == want_b
    assert killed > 5
