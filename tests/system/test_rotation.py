"""run and prune on real btrfs, checked step by step against an independent
model of SPEC 4 (model.py), over months of simulated time."""
import json
import os
import random
import subprocess
from datetime import datetime, timezone

import pytest

from conftest import BINARY, run
from model import Snap, due, expected_keep, iso, stamp

TZ = "Europe/Vienna"
DAY = 86400


def parse_time(s):
    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
               .timestamp())


def actual(env, volume):
    return [Snap(s["name"], parse_time(s["created"]), s["kind"], s["pinned"], s["pre"],
                 int(s["name"].rsplit("_", 1)[1]) if "Z_" in s["name"] else 1,
                 {k: parse_time(v) for k, v in s["sent_to"].items()})
            for s in env.snaps(volume) if not s["foreign"]]


VOLUMES = {
    # name: (retain line, policy for the model, interval seconds)
    "data": ("retain = hourly=6 daily=7 weekly=4 monthly=3\nretain_pre_post = 2\n"
             "retain_manual = 3\n",
             {"hourly": 6, "daily": 7, "weekly": 4, "monthly": 3, "pre_post": 2,
              "manual": 3}, 0),
    "logs": ("retain = daily=5 weekly=3 monthly=2 yearly=1\ninterval = 5h\n"
             "retain_min = 1d\n",
             {"daily": 5, "weekly": 3, "monthly": 2, "yearly": 1, "min_age": DAY}, 5 * 3600),
}


@pytest.fixture
def rot(env, btrfs):
    logs = btrfs.subvolume("logs")
    env.write_config(extra_volume=VOLUMES["data"][0],
                     extra=f"[volume logs]\nbackend = btrfs\npath = {logs}\n"
                     f"snapshot_dir = {btrfs.mnt}/logsnaps\n" + VOLUMES["logs"][0])
    return env


def test_months_of_runs_match_the_model(rot):
    """~140 days, 1-6 runs a day at irregular times across the autumn DST change,
    with manual, pinned and pre/post snapshots mixed in; after every step the
    survivors equal the model's."""
    env = rot
    rnd = random.Random(20261127)
    tzenv = {"TZ": TZ}
    start = parse_time("2026-07-20T00:00:00Z")
    model = {v: [] for v in VOLUMES}
    steps = 0
    for day in range(140):
        times = sorted(start + day * DAY + rnd.randrange(DAY) for _ in range(rnd.randint(1, 6)))
        if rnd.random() < 0.2:          # a timer firing twice within minutes
            times.append(times[-1] + rnd.randrange(60, 900))
        for now in times:
            r = env.run("run", "--now", iso(now), env=tzenv)
            assert r.returncode == 0, r.stderr
            for v, (_, policy, interval) in VOLUMES.items():
                if due(model[v], policy, interval, now, TZ):
                    model[v].append(Snap(f"{v}.{stamp(now)}", now))
                keep = expected_keep(model[v], policy, now, TZ)
                model[v] = [s for s in model[v] if s.name in keep]
                got = actual(env, v)
                assert [s.name for s in got] == [s.name for s in model[v]], \
                    f"{v} after run at {iso(now)} (step {steps})"
            steps += 1
            # Now and then, what an administrator and the package hooks add.
            x = rnd.random()
            t = now + 30
            if x < 0.05:
                env.ok("snapshot", "data", "--now", iso(t), env=tzenv)
                model["data"].append(Snap(f"data.{stamp(t)}", t, "manual"))
            elif x < 0.07:
                env.ok("snapshot", "--pin", "data", "--now", iso(t), env=tzenv)
                model["data"].append(Snap(f"data.{stamp(t)}", t, "manual", pinned=True))
            elif x < 0.12:
                pre = env.ok("snapshot", "--kind", "pre", "data", "--now", iso(t),
                             env=tzenv).stdout.strip()
                env.ok("snapshot", "--pre", pre, "data", "--now", iso(t + 60), env=tzenv)
                model["data"].append(Snap(pre, t, "pre"))
                model["data"].append(Snap(f"data.{stamp(t + 60)}", t + 60, "post", pre=pre))
    assert steps > 400
    # The survivors at the end, by rule, are what a year-old setup would keep.
    assert len([s for s in model["data"] if s.kind == "timeline"]) >= 15
    assert all(s["complete"] for s in env.snaps("data"))


def test_run_is_idempotent_within_a_bucket(rot):
    env = rot
    env.ok("run", "--now", "2026-11-27T09:05:00Z")
    env.ok("run", "--now", "2026-11-27T09:55:00Z")      # same hour: nothing new for data
    assert env.names("data") == ["data.20261127T090500Z"]
    assert env.names("logs") == ["logs.20261127T090500Z"]
    env.ok("run", "--now", "2026-11-27T10:01:00Z")      # next hour; logs needs 5h
    assert env.names("data") == ["data.20261127T090500Z", "data.20261127T100100Z"]
    assert env.names("logs") == ["logs.20261127T090500Z"]


def test_prune_prints_every_decision_with_its_rule(rot):
    env = rot
    for h in range(10):
        env.ok("run", "data", "--now", f"2026-11-27T{h:02d}:10:00Z", env={"TZ": "UTC"})
    # hourly=6: run pruned hours 01-03; 00:10 stays as the day's, week's, month's first.
    doc = json.loads(env.ok("prune", "--json", "data", "--dry-run",
                            "--now", "2026-11-27T10:00:00Z", env={"TZ": "UTC"}).stdout)
    assert doc["format"] == 1
    decisions = doc["volumes"][0]["decisions"]
    assert [d["name"] for d in decisions] == ["data.20261127T001000Z"] + [
        f"data.20261127T{h:02d}1000Z" for h in range(4, 10)]
    assert [d["action"] for d in decisions] == ["keep"] * 7
    assert decisions[-1]["reasons"][0] == "newest"
    assert "hourly 2026-11-27 09:00" in decisions[-1]["reasons"]
    assert decisions[0]["reasons"] == ["daily 2026-11-27", "weekly 2026-W48",
                                       "monthly 2026-11"]
    # Tighten the policy: now prune has something to say.
    env.write_config(extra_volume="retain = hourly=2\n")
    out = env.ok("prune", "data", "--now", "2026-11-27T10:00:00Z", env={"TZ": "UTC"}).stdout
    assert "keep    data.20261127T091000Z  newest, hourly 2026-11-27 09:00" in out
    assert "keep    data.20261127T081000Z  hourly 2026-11-27 08:00" in out
    assert "delete  data.20261127T001000Z" in out
    assert "data: kept 2, deleted 5" in out
    assert env.names("data") == ["data.20261127T081000Z", "data.20261127T091000Z"]


def test_dry_run_changes_nothing(rot):
    env = rot
    for d in range(1, 20):
        env.ok("snapshot", "--kind", "timeline", "data", "--now", f"2026-11-{d:02d}T12:00:00Z")
    before = env.tree()
    out = env.ok("run", "--dry-run", "--now", "2026-12-01T12:00:00Z").stdout
    assert "would take data.20261201T120000Z" in out
    assert "DELETE" in out
    env.ok("prune", "-n", "--now", "2026-12-01T12:00:00Z")
    assert env.tree() == before
    assert not (env.base / "state").exists()


def test_max_delete_stops_a_mass_deletion(rot):
    env = rot
    for d in range(1, 21):
        env.ok("snapshot", "--kind", "timeline", "data", "--now", f"2026-11-{d:02d}T12:00:00Z")
    env.write_config(extra_volume="retain = daily=3\nmax_delete = 5\n")
    before = env.tree()
    r = env.run("prune", "data", "--now", "2026-11-21T00:00:00Z")
    assert r.returncode == 1
    assert "would delete 17 snapshots, more than max_delete = 5; deleted none" in r.stderr
    assert env.tree() == before
    env.write_config(extra_volume="retain = daily=3\nmax_delete = 17\n")
    env.ok("prune", "data", "--now", "2026-11-21T00:00:00Z")
    assert len(env.names("data")) == 3


def test_min_free_blocks_a_snapshot(rot, btrfs):
    env = rot
    env.write_config(extra_volume="min_free = 60%\n")
    # Fill the filesystem beyond 40% with a real file.
    with open(env.data / "ballast", "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(600):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    r = env.run("run", "data", "--now", "2026-11-27T09:00:00Z")
    assert r.returncode == 1
    assert "not enough free space" in r.stderr and "min_free is 60%" in r.stderr
    assert env.names("data") == []
    state = json.loads((env.base / "state" / "data.json").read_text())
    assert state["success"] is False and "min_free" in state["error"]
    # An explicit snapshot is refused too, and changes nothing.
    r = env.run("snapshot", "data", "--now", "2026-11-27T09:30:00Z")
    assert r.returncode == 1 and "not enough free space" in r.stderr
    assert env.names("data") == []
    os.unlink(env.data / "ballast")
    run("btrfs", "filesystem", "sync", btrfs.mnt)
    env.ok("run", "data", "--now", "2026-11-27T10:00:00Z")
    assert env.names("data") == ["data.20261127T100000Z"]


def test_run_repairs_and_one_failure_does_not_stop_the_others(rot, btrfs):
    env = rot
    env.ok("run", "--now", "2026-11-27T09:00:00Z")
    half = env.snapdir / "data.20261127T093000Z"
    half.mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", env.data, half / "snapshot")
    # logs: its snapshot_dir is replaced by a file, so it cannot snapshot.
    run("btrfs", "subvolume", "delete", btrfs.mnt / "logsnaps" / "logs.20261127T090000Z" /
        "snapshot")
    (btrfs.mnt / "logsnaps" / "logs.20261127T090000Z" / "info.json").unlink()
    (btrfs.mnt / "logsnaps" / "logs.20261127T090000Z").rmdir()
    (btrfs.mnt / "logsnaps").rmdir()
    (btrfs.mnt / "logsnaps").write_text("not a directory")
    r = env.run("run", "--now", "2026-11-27T15:00:00Z")
    assert r.returncode == 1
    assert "removed incomplete data.20261127T093000Z" in r.stdout
    assert "run failed for 1 volume: logs" in r.stderr
    assert not half.exists()
    assert env.names("data") == ["data.20261127T090000Z", "data.20261127T150000Z"]
    data_state = json.loads((env.base / "state" / "data.json").read_text())
    logs_state = json.loads((env.base / "state" / "logs.json").read_text())
    assert data_state["success"] is True and data_state["snapshot"] == "data.20261127T150000Z"
    assert data_state["time"] == "2026-11-27T15:00:00Z"
    assert logs_state["success"] is False and logs_state["error"]


def pending_deletions(mnt):
    out = run("btrfs", "subvolume", "list", "-d", mnt).stdout
    return len([l for l in out.splitlines() if l.strip()])


@pytest.mark.parametrize("batch", [3, 0])
def test_delete_batch_paces_the_cleaner(env, btrfs, batch):
    """With delete_batch = N, never more than N deleted snapshots wait for the
    btrfs cleaner; with 0 they pile up (which shows the probe sees them)."""
    for d in range(1, 41):
        (env.data / f"f{d}").write_bytes(os.urandom(64 * 1024))
        env.ok("snapshot", "--kind", "timeline", "data", "--now", f"2026-10-{d % 28 + 1:02d}T"
               f"{d % 24:02d}:00:00Z")
    run("btrfs", "filesystem", "sync", btrfs.mnt)
    env.write_config(extra_volume=f"retain = daily=1\ndelete_batch = {batch}\n")
    p = subprocess.Popen([str(BINARY), "-c", str(env.conf), "prune", "--now",
                          "2026-11-01T00:00:00Z"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ,
                                                                 "SNAPROTATE_DEBUG": "btrfs"})
    seen = [pending_deletions(btrfs.mnt)]
    while p.poll() is None:
        seen.append(pending_deletions(btrfs.mnt))
    out, err = p.communicate()
    seen.append(pending_deletions(btrfs.mnt))
    assert p.returncode == 0, err
    assert "deleted 39" in out
    if batch:
        assert max(seen) <= batch, seen
        assert "await the cleaner" in err       # it did wait
    else:
        assert max(seen) > 3, seen
