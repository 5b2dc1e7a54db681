"""A SIGKILL at every named fault point (include/base/fault.h) of snapshot, pin,
delete, prune, run (snapshot, prune, send, the target's prune), restore and rollback,
on real btrfs, with the test build build/faults/snaprotate (`make faults`).

For each operation the points it passes are traced first (SNAPROTATE_FAULT_LOG), then
the operation is started afresh once per point and killed there (SNAPROTATE_FAULT). After
each kill, every snapshot and copy that `list` or the target calls complete has the
content it was taken with (its tree digest); after the next run, what was left half-done
is repaired, nothing that existed before is lost, and the operation itself succeeds.
The LVM backend's points are killed in the VM (test_lvm.py)."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run
from test_send import subvol_show, target_fs, tree_digest  # noqa: F401

FAULTS = ROOT / "build" / "faults" / "snaprotate"
T = ["2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z", "2026-12-03T10:00:00Z",
     "2026-12-04T10:00:00Z"]
# Points only the LVM backend (or a block copy) passes: killed in test_lvm.py.
# freeze.frozen: a btrfs snapshot needs no freeze (a group of btrfs volumes is not frozen).
LVM_ONLY = {"rollback.begin", "rollback.merged", "apply.extent", "restore.applied",
            "freeze.frozen"}


@pytest.fixture(autouse=True)
def faults_binary():
    assert FAULTS.exists(), f"{FAULTS} is missing: make faults"


def fx(env, *args, fault=None, log=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SNAPROTATE_")}
    if fault:
        e["SNAPROTATE_FAULT"] = fault
    if log:
        e["SNAPROTATE_FAULT_LOG"] = str(log)
    return subprocess.run([str(FAULTS), "-c", str(env.conf), *map(str, args)],
                          capture_output=True, text=True, env=e)


def fx_ok(env, *args):
    r = fx(env, *args)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def source_points():
    """Every FAULT("...") in the source."""
    names = set()
    for p in (ROOT / "src").rglob("*.c"):
        names.update(re.findall(r'\bFAULT\("([a-z.-]+)"\)', p.read_text()))
    return names


class Round:
    """One fresh volume (its own subvolume and snapshot directory) and, for the
    operations that need one, a fresh target directory: each kill starts clean."""

    def __init__(self, env, i, target=None, nested=False, group=False, tgt_retain="daily=2"):
        self.env, self.i = env, i
        fs = env.fs
        env.data = fs.subvolume(f"d{i}")
        if nested:
            (env.data / "var/lib").mkdir(parents=True)
            run("btrfs", "subvolume", "create", env.data / "var/lib/docker")
            (env.data / "var/lib/docker/image").write_text("a container image\n")
            env.snapdir = env.data / ".snapshots"
            snapdir = ""
        else:
            env.snapdir = fs.mnt / f"s{i}"
            snapdir = f"snapshot_dir = {env.snapdir}\n"
        extra_volume, extra = "retain = daily=2\nretain_manual = 0\n", ""
        self.tdir = None
        if target:
            self.tdir = target.mnt / f"b{i}"
            self.tdir.mkdir()
            extra_volume += "targets = nas\n"
            extra = f"[target nas]\nurl = file://{self.tdir}\nretain = {tgt_retain}\n"
        if group:
            self.data2 = fs.subvolume(f"e{i}")
            self.snapdir2 = fs.mnt / f"t{i}"
            extra += (f"[volume data2]\nbackend = btrfs\npath = {self.data2}\n"
                      f"snapshot_dir = {self.snapdir2}\nretain = daily=2\n\n"
                      "[group pair]\nvolumes = data data2\n")
        env.conf.write_text(
            f"[global]\nlock_dir = {env.lockdir}\nstate_dir = {env.base / 'state'}{i}\n\n"
            f"[volume data]\nbackend = btrfs\npath = {env.data}\n{snapdir}{extra_volume}\n"
            f"{extra}")
        os.chmod(env.conf, 0o600)
        self.want = {}              # snapshot name -> digest of its content

    def change(self, what):
        (self.env.data / "state").write_text(f"{what}\n")
        (self.env.data / f"file-{what}").write_text(what * 1000)

    def take(self, when, kind="timeline"):
        name = fx_ok(self.env, "snapshot", "--kind", kind, "data", "--now", when).stdout.strip()
        self.want[name] = tree_digest(self.env.snapdir / name / "snapshot")
        return name

    def snaps(self, volume="data"):
        doc = json.loads(fx_ok(self.env, "list", "--json", volume).stdout)
        return doc["volumes"][0]["snapshots"]

    def copies(self):
        """The target's entries: name -> whole (info.json and a received subvolume)."""
        d = self.tdir / "data"
        out = {}
        for p in sorted(d.iterdir()) if d.exists() else []:
            if p.name == ".lock":       # serve's lock, kept
                continue
            whole = (p / "info.json").exists() and (p / "snapshot").is_dir() and \
                subvol_show(p / "snapshot").get("Received UUID", "-") != "-"
            out[p.name] = whole
        return out

    def check_whole(self, new_digest):
        """What looks complete is: its content is the content it was taken with
        (a name not taken before is the one the killed run took, of the current data)."""
        for s in self.snaps():
            if not s["complete"]:
                continue
            got = tree_digest(self.env.snapdir / s["name"] / "snapshot")
            assert got == self.want.get(s["name"], new_digest), s["name"]
            ro = run("btrfs", "property", "get", "-ts", self.env.snapdir / s["name"] /
                     "snapshot", "ro").stdout.strip()
            assert ro == "ro=true", s["name"]
        if self.tdir:
            for name, whole in self.copies().items():
                if whole and not name.startswith("."):     # not staged: a copy
                    got = tree_digest(self.tdir / "data" / name / "snapshot")
                    assert got == self.want.get(name, new_digest), name

    def check_clean(self):
        """Repaired: every entry complete, nothing half-made beside them."""
        snaps = self.snaps()
        assert all(s["complete"] for s in snaps), snaps
        listed = {s["name"] for s in snaps}
        on_disk = {p.name for p in self.env.snapdir.iterdir()}
        assert on_disk == listed, on_disk ^ listed
        for n in listed:
            assert sorted(os.listdir(self.env.snapdir / n)) == ["info.json", "snapshot"], n
        if self.tdir:
            copies = self.copies()
            assert all(copies.values()) and not [n for n in copies if n.startswith(".")], \
                copies


def killed_at(env, argv, point):
    r = fx(env, *argv, fault=point)
    # Killed (-9), or a kill of its serve child seen as a failure (1): never anything else.
    assert r.returncode in (-9, 1), (point, r.returncode, r.stdout, r.stderr)
    return r


# --- the operations: each (setup, argv, after) for a Round ---

def op_snapshot(rd):
    rd.change("a")
    rd.take(T[0])
    rd.change("b")
    before = set(rd.want)
    new = tree_digest(rd.env.data)

    def after():
        rd.check_whole(new)
        fx_ok(rd.env, "prune", "--now", T[2])
        rd.check_clean()
        assert before <= {s["name"] for s in rd.snaps()}
        fx_ok(rd.env, "snapshot", "--kind", "timeline", "data", "--now", T[3])
        rd.check_whole(new)
    return ["snapshot", "--kind", "timeline", "data", "--now", T[1]], after


def op_pin(rd):
    rd.change("a")
    name = rd.take(T[0])

    def after():
        rd.check_whole(None)
        fx_ok(rd.env, "prune", "--now", T[0])
        # The update done again leaves nothing of the one killed (its .info.json.tmp).
        fx_ok(rd.env, "pin", "data", name)
        rd.check_clean()
        assert [s["pinned"] for s in rd.snaps()] == [True]
        rd.check_whole(None)
    return ["pin", "data", name], after


def op_delete(rd):
    rd.change("a")
    gone = rd.take(T[0])
    rd.change("b")
    kept = rd.take(T[1])

    def after():
        rd.check_whole(None)
        fx_ok(rd.env, "prune", "--now", T[1])
        rd.check_clean()
        if gone in {s["name"] for s in rd.snaps()}:
            fx_ok(rd.env, "delete", "data", gone)
        assert [s["name"] for s in rd.snaps()] == [kept]
        rd.check_whole(None)
    return ["delete", "data", gone], after


def op_prune(rd):
    names = []
    for i, t in enumerate(T):
        rd.change(str(i))
        names.append(rd.take(t))

    def after():
        rd.check_whole(None)
        fx_ok(rd.env, "prune", "--now", T[3])
        rd.check_clean()
        assert [s["name"] for s in rd.snaps()] == names[2:]     # daily=2
        rd.check_whole(None)
    return ["prune", "--now", T[3]], after


def op_run(rd):
    """Snapshot, prune, send (an incremental on the last copy), prune the target."""
    for i, t in enumerate(T[:3]):
        rd.change(str(i))
        fx_ok(rd.env, "run", "--now", t)
    for s in rd.snaps():
        rd.want[s["name"]] = tree_digest(rd.env.snapdir / s["name"] / "snapshot")
    # The copies pruned from the source are on the target still: their digests.
    for name in rd.copies():
        rd.want.setdefault(name, tree_digest(rd.tdir / "data" / name / "snapshot"))
    rd.change("3")
    new = tree_digest(rd.env.data)
    before = {s["name"] for s in rd.snaps()}

    def after():
        rd.check_whole(new)
        r = fx(rd.env, "run", "--now", T[3])
        assert r.returncode == 0, r.stdout + r.stderr
        names = [s["name"] for s in rd.snaps()]
        assert len(names) == 2 and names[0] in before and names[1] not in before, names
        assert [n for n in rd.copies() if not n.startswith(".")] == names, rd.copies()
        assert all(s["sent_to"] for s in rd.snaps()), rd.snaps()
        rd.check_whole(new)
        for n in names:
            rd.want.setdefault(n, new)
        # What the target staged goes with the next session that changes it (a LIST
        # changes nothing): the next run's.
        rd.change("4")
        fx_ok(rd.env, "run", "--now", "2026-12-05T10:00:00Z")
        rd.check_clean()
        rd.check_whole(tree_digest(rd.env.data))
    return ["run", "--now", T[3]], after


def op_restore(rd):
    rd.change("a")
    name = rd.take(T[0])
    rd.change("b")
    rd.take(T[1])
    fx_ok(rd.env, "send", "data")
    to = rd.env.fs.mnt / f"restored{rd.i}"
    want = rd.want[name]

    def after():
        rd.check_whole(None)
        if to.exists():
            # Never a --to that is not whole: the copy's content, and its info.json.
            assert tree_digest(to) == want
            assert json.loads(Path(f"{to}.info.json").read_text())["name"] == name
        else:
            fx_ok(rd.env, "restore", "data", name, "--to", to)
        assert tree_digest(to) == want and subvol_show(to)["Flags"] == "-"
        beside = sorted(p for p in os.listdir(to.parent) if f"restored{rd.i}" in p)
        assert beside == [f"restored{rd.i}", f"restored{rd.i}.info.json"], beside
        stores = [p for p in os.listdir(to.parent) if p.startswith(".")]
        assert not stores, stores
        assert sorted(rd.copies()) == sorted(rd.want), rd.copies()
    return ["restore", "data", name, "--to", to], after


def op_rollback(rd):
    env = rd.env
    (env.data / "x").write_text("A\n")
    a = fx_ok(env, "snapshot", "--kind", "timeline", "data", "--now", T[0]).stdout.strip()
    want_a = tree_digest(env.snapdir / a / "snapshot")
    (env.data / "x").write_text("B\n")
    (env.data / "y").write_text("only in B\n")

    def content():
        return (env.data / "x").read_text(), (env.data / "y").exists()

    def after():
        # The volume holds A or B, never a mix (a nested subvolume may be in the
        # new one until the next run completes or undoes the rollback).
        assert content() in {("A\n", False), ("B\n", True)}
        fx_ok(env, "prune", "--now", T[1])
        assert content() in {("A\n", False), ("B\n", True)}
        assert (env.data / "var/lib/docker/image").read_text() == "a container image\n"
        assert not [n for n in os.listdir(env.data.parent) if ".rollback" in n]
        names = {s["name"] for s in rd.snaps()}
        assert a in names
        assert tree_digest(env.snapdir / a / "snapshot") == want_a
        if content() == ("B\n", True):
            fx_ok(env, "rollback", "data", a, "--now", T[2])
        assert content() == ("A\n", False)
        assert (env.data / "var/lib/docker/image").read_text() == "a container image\n"
        assert all(s["complete"] for s in rd.snaps())
    return ["rollback", "data", a, "--now", T[1]], after


def op_group(rd):
    """The snapshots of a group, one after the other (freeze = yes has nothing to
    freeze on btrfs: its snapshots are atomic; LVM's frozen window is killed in the VM)."""
    env = rd.env
    rd.change("a")
    (rd.data2 / "state").write_text("a2\n")
    new = tree_digest(env.data), tree_digest(rd.data2)

    def after():
        rd.check_whole(new[0])
        for s in rd.snaps("data2"):
            if s["complete"]:
                assert tree_digest(rd.snapdir2 / s["name"] / "snapshot") == new[1]
        fx_ok(env, "prune", "--now", T[0])
        rd.check_clean()
        # What a kill between the members left stands alone, each whole; the group
        # taken again is whole.
        fx_ok(env, "snapshot", "--kind", "timeline", "pair", "--now", T[1])
        for vol, d, want in (("data", env.snapdir, new[0]), ("data2", rd.snapdir2, new[1])):
            snaps = rd.snaps(vol)
            assert T[1][:10].replace("-", "") in snaps[-1]["name"] and \
                all(s["complete"] for s in snaps), snaps
            for s in snaps:
                assert tree_digest(d / s["name"] / "snapshot") == want
    return ["snapshot", "--kind", "timeline", "pair", "--now", T[0]], after


OPS = {
    "group": (op_group, {"group": True}),
    "snapshot": (op_snapshot, {}),
    "pin": (op_pin, {}),
    "delete": (op_delete, {}),
    "prune": (op_prune, {}),
    "run": (op_run, {"target": True}),
    "restore": (op_restore, {"target": True}),
    "rollback": (op_rollback, {"nested": True}),
}
# The points each operation must pass (at least these: a durable step that lost its
# point, or a path that no longer reaches one, fails here).
MUST = {
    "group": {"snapshot.done", "group.taken"},
    "snapshot": {"snapshot.begin", "snapshot.created", "atomic.written", "atomic.renamed",
                 "snapshot.done"},
    "pin": {"update.begin", "atomic.written", "atomic.renamed", "update.done"},
    "delete": {"remove.begin", "remove.uncommitted", "remove.deleted", "remove.done"},
    "prune": {"remove.begin", "remove.uncommitted", "remove.deleted", "remove.done"},
    "run": {"snapshot.done", "remove.done", "serve:receive.staged", "serve:receive.chunk",
            "serve:receive.received", "serve:receive.committed", "serve:receive.done",
            "send.done", "update.done", "serve:retire.begin", "serve:retire.staged",
            "serve:retire.done"},
    "restore": {"serve:receive.staged", "serve:receive.done", "restore.writable", "restore.moved", "restore.unstaged", "restore.synced",
                "atomic.written", "restore.renamed", "restore.done"},
    "rollback": {"snapshot.done", "rollback.snapshotted", "rollback.carried",
                 "rollback.exchanged", "rollback.followed", "rollback.deleted"},
}


def setup_round(env, target_fs, op, i):
    fn, kw = OPS[op]
    rd = Round(env, i, target=target_fs if kw.get("target") else None,
               nested=kw.get("nested", False), group=kw.get("group", False))
    argv, after = fn(rd)
    return rd, argv, after


def trace_op(env, target_fs, op, tmp_path):
    rd, argv, _ = setup_round(env, target_fs, op, 0)
    log = tmp_path / f"points-{op}"
    log.unlink(missing_ok=True)
    r = fx(env, *argv, log=log)
    assert r.returncode == 0, r.stdout + r.stderr
    names = log.read_text().split()
    total = {n: names.count(n) for n in set(names)}
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        # A point passed many times (a chunk of a stream): its first, second and last.
        if seen[name] <= 2 or seen[name] == total[name]:
            out.append(f"{name}@{seen[name]}")
    return out


@pytest.mark.parametrize("op", sorted(OPS))
def test_kill_at_every_point(env, target_fs, op, tmp_path):
    points = trace_op(env, target_fs, op, tmp_path)
    names = {p.split("@")[0] for p in points}
    assert MUST[op] <= names, MUST[op] - names
    for i, point in enumerate(points, start=1):
        rd, argv, after = setup_round(env, target_fs, op, i)
        killed_at(env, argv, point)
        try:
            after()
        except AssertionError as e:
            raise AssertionError(f"killed at {point}: {e}") from e


def test_every_point_in_the_source_is_killed_somewhere():
    """Each FAULT() in src/ is in some operation's must-pass set here, or LVM's."""
    covered = set().union(*MUST.values())
    covered = {p.split(":")[-1] for p in covered} | LVM_ONLY
    assert source_points() - covered == set(), source_points() - covered
