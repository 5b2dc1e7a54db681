"""snapshot, list, delete, pin, unpin on real loop-device btrfs."""
import json
import os
import subprocess

import pytest

from conftest import BINARY, run

SPEC_KEYS = {"name", "created", "kind", "pinned", "description", "pre", "complete",
             "foreign", "sent_to"}
# Added after SPEC 2 for LVM's health (SPEC: fields may be added); constant on btrfs.
HEALTH = {"invalid": False, "merging": False, "cow_percent": None, "damaged": False,
          "problem": None, "stale": False}


def is_readonly_subvolume(path):
    out = run("btrfs", "property", "get", "-ts", path, "ro").stdout.strip()
    return out == "ro=true"


def test_each_kind(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T09:00:00Z")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T10:00:00Z")
    env.ok("snapshot", "--kind", "boot", "data", "--now", "2026-11-27T11:00:00Z")
    env.ok("snapshot", "--kind", "pre", "--description", "apt install vim", "data",
           "--now", "2026-11-27T12:00:00Z")
    env.ok("snapshot", "--pre", "latest", "data", "--now", "2026-11-27T12:01:00Z")
    env.ok("snapshot", "--kind", "post", "--pre", "20261127T1200", "data",
           "--now", "2026-11-27T12:02:00Z")
    env.ok("snapshot", "--pin", "--description", "golden", "data",
           "--now", "2026-11-27T13:00:00Z")
    snaps = env.snaps()
    assert [s["kind"] for s in snaps] == ["manual", "timeline", "boot", "pre", "post", "post",
                                          "manual"]
    pre = snaps[3]
    assert pre["name"] == "data.20261127T120000Z"
    assert pre["description"] == "apt install vim"
    assert snaps[4]["pre"] == pre["name"] and snaps[5]["pre"] == pre["name"]
    assert snaps[6]["pinned"] is True and snaps[6]["description"] == "golden"
    for s in snaps:
        assert set(s) == SPEC_KEYS | set(HEALTH)
        assert {k: s[k] for k in HEALTH} == HEALTH
        assert s["complete"] is True and s["foreign"] is False
        sub = env.snapdir / s["name"] / "snapshot"
        assert is_readonly_subvolume(sub)
        info = json.loads((env.snapdir / s["name"] / "info.json").read_text())
        assert info["format"] == 1 and info["volume"] == "data"
        assert info["name"] == s["name"] and info["created"] == s["created"]
        assert info["creator"].startswith("snaprotate ")
        assert info["uuid"] and info["parent_uuid"]


def test_snapshot_content_is_frozen_in_time(env):
    (env.data / "file").write_text("before")
    env.ok("snapshot", "data", "--now", "2026-01-01T00:00:00Z")
    (env.data / "file").write_text("after")
    snap = env.snapdir / "data.20260101T000000Z" / "snapshot"
    assert (snap / "file").read_text() == "before"
    with pytest.raises(OSError):
        (snap / "new").write_text("x")


def test_post_needs_a_pre_snapshot(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T09:00:00Z")
    before = env.tree()
    r = env.run("snapshot", "--pre", "latest", "data", "--now", "2026-11-27T09:01:00Z")
    assert r.returncode == 2 and "not a pre snapshot" in r.stderr
    r = env.run("snapshot", "--kind", "post", "data")
    assert r.returncode == 2 and "--pre" in r.stderr
    r = env.run("snapshot", "--kind", "pre", "--pre", "latest", "data")
    assert r.returncode == 2
    assert env.tree() == before


def test_list_json_round_trip_and_table(env):
    for t in ("2026-11-25T08:00:00Z", "2026-11-26T08:00:00Z", "2026-11-27T08:00:00Z"):
        env.ok("snapshot", "--kind", "timeline", "data", "--now", t)
    doc = env.list()
    assert list(doc) == ["format", "volumes"]
    vol = doc["volumes"][0]
    assert vol["volume"] == "data" and vol["backend"] == "btrfs"
    names = [s["name"] for s in vol["snapshots"]]
    assert names == ["data.20261125T080000Z", "data.20261126T080000Z", "data.20261127T080000Z"]
    # What list --json says, info.json says too.
    for s in vol["snapshots"]:
        info = json.loads((env.snapdir / s["name"] / "info.json").read_text())
        for k in ("created", "kind", "pinned", "description", "pre", "sent_to"):
            assert info[k] == s[k]
    # The same list asked for by volume name; and the table shows every name.
    assert env.list("data") == doc
    table = env.ok("list").stdout
    for n in names:
        assert n in table
    assert "timeline" in table


def test_now_from_environment(env):
    env.ok("snapshot", "data", env={"SNAPROTATE_NOW": "2030-02-03T04:05:06Z"})
    assert env.names() == ["data.20300203T040506Z"]
    r = env.run("snapshot", "data", env={"SNAPROTATE_NOW": "yesterday"})
    assert r.returncode == 2 and "SNAPROTATE_NOW" in r.stderr
    # --now wins over the environment.
    env.ok("snapshot", "data", "--now", "2030-02-03T05:00:00+01:00",
           env={"SNAPROTATE_NOW": "2031-01-01T00:00:00Z"})
    assert env.names() == ["data.20300203T040000Z", "data.20300203T040506Z"]


def test_same_second_gets_distinct_names(env):
    for _ in range(3):
        env.ok("snapshot", "data", "--now", "2026-11-27T09:05:12Z")
    assert env.names() == ["data.20261127T090512Z", "data.20261127T090512Z_2",
                           "data.20261127T090512Z_3"]
    assert all(s["complete"] for s in env.snaps())


def test_delete_and_pin(env):
    for t in ("2026-11-25T08:00:00Z", "2026-11-26T08:00:00Z", "2026-11-27T08:00:00Z"):
        env.ok("snapshot", "data", "--now", t)
    env.ok("pin", "data", "20261126")
    assert [s["pinned"] for s in env.snaps()] == [False, True, False]
    info = json.loads((env.snapdir / "data.20261126T080000Z" / "info.json").read_text())
    assert info["pinned"] is True

    r = env.run("delete", "data", "data.20261126T080000Z")
    assert r.returncode == 1 and "pinned" in r.stderr
    assert (env.snapdir / "data.20261126T080000Z" / "snapshot").is_dir()

    env.ok("delete", "data", "20261125")
    assert env.names() == ["data.20261126T080000Z", "data.20261127T080000Z"]
    assert not (env.snapdir / "data.20261125T080000Z").exists()

    env.ok("unpin", "data", "20261126")
    assert env.snaps()[0]["pinned"] is False
    env.ok("delete", "data", "20261126", "latest")
    assert env.names() == []
    assert os.listdir(env.snapdir) == []


def test_delete_pinned_with_force(env):
    env.ok("snapshot", "--pin", "data", "--now", "2026-11-27T08:00:00Z")
    env.ok("delete", "--force", "data", "latest")
    assert env.names() == []


def test_delete_resolves_every_name_before_deleting(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    before = env.tree()
    r = env.run("delete", "data", "latest", "nosuch")
    assert r.returncode == 2 and "nosuch" in r.stderr
    assert env.tree() == before


def test_ambiguous_and_unknown_snapshot(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    env.ok("snapshot", "data", "--now", "2026-11-27T09:00:00Z")
    r = env.run("pin", "data", "20261127")
    assert r.returncode == 2 and "matches 2" in r.stderr
    r = env.run("pin", "data", "2025")
    assert r.returncode == 2 and "no snapshot '2025'" in r.stderr
    r = env.run("pin", "nosuchvolume", "latest")
    assert r.returncode == 2 and "unknown volume 'nosuchvolume'" in r.stderr
    assert not any(s["pinned"] for s in env.snaps())


def test_incomplete_snapshot_is_listed_as_such(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    # What a crash between the snapshot and info.json leaves behind.
    half = env.snapdir / "data.20261127T090000Z"
    half.mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", env.data, half / "snapshot")
    # And one whose info.json is fine but whose snapshot is gone.
    gone = env.snapdir / "data.20261127T110000Z"
    env.ok("snapshot", "data", "--now", "2026-11-27T11:00:00Z")
    run("btrfs", "subvolume", "delete", gone / "snapshot")

    snaps = {s["name"]: s for s in env.snaps()}
    assert snaps["data.20261127T080000Z"]["complete"] is True
    for n in ("data.20261127T090000Z", "data.20261127T110000Z"):
        assert snaps[n]["complete"] is False, n
        assert snaps[n]["damaged"] is False, n
        assert snaps[n]["kind"] is None
        assert snaps[n]["foreign"] is False
    assert "incomplete" in env.ok("list").stdout
    # latest is the newest complete one.
    env.ok("pin", "data", "latest")
    assert snaps["data.20261127T080000Z"]["name"] in [
        s["name"] for s in env.snaps() if s["pinned"]]
    # An incomplete snapshot can be deleted.
    env.ok("delete", "data", "data.20261127T090000Z")
    assert not half.exists()


def test_foreign_entries_are_listed_and_never_touched(env):
    env.snapdir.mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", env.data, env.snapdir / "my-backup")
    (env.snapdir / "notes.txt").write_text("mine")
    (env.snapdir / "other.20261127T080000Z").mkdir()     # another volume's name
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    snaps = env.snaps()
    foreign = sorted(s["name"] for s in snaps if s["foreign"])
    assert foreign == ["my-backup", "notes.txt", "other.20261127T080000Z"]
    assert [s["name"] for s in snaps if not s["foreign"]] == ["data.20261127T080000Z"]
    assert snaps[0]["name"] == "data.20261127T080000Z"      # foreign entries come last
    r = env.run("delete", "data", "my-backup")
    assert r.returncode == 1 and "not made by snaprotate" in r.stderr
    r = env.run("delete", "--force", "data", "my-backup")
    assert r.returncode == 1
    assert (env.snapdir / "my-backup").is_dir()
    assert (env.snapdir / "notes.txt").read_text() == "mine"
    # latest never picks a foreign entry
    env.ok("delete", "data", "latest")
    assert sorted(os.listdir(env.snapdir)) == foreign


def test_dry_run_changes_nothing(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    before = env.tree()
    out = env.ok("snapshot", "--dry-run", "data").stdout
    assert "would snapshot data" in out
    assert "would delete" in env.ok("-n", "delete", "data", "latest").stdout
    assert "would pin" in env.ok("pin", "data", "latest", "--dry-run").stdout
    assert env.tree() == before


def test_snapshot_dir_is_created_0700(env):
    assert not env.snapdir.exists()
    env.ok("snapshot", "data")
    assert (env.snapdir.stat().st_mode & 0o777) == 0o700


def test_snapshot_json_output(env):
    doc = json.loads(env.ok("snapshot", "--json", "data", "--now",
                            "2026-11-27T08:00:00Z").stdout)
    assert doc == {"format": 1, "snapshots": [
        {"volume": "data", "name": "data.20261127T080000Z", "kind": "manual"}]}


def test_group_snapshot_takes_every_member(env, btrfs):
    other = btrfs.subvolume("logs")
    env.write_config(extra=f"[volume logs]\nbackend = btrfs\npath = {other}\n"
                     f"snapshot_dir = {btrfs.mnt}/logsnaps\n\n"
                     "[group both]\nvolumes = data logs\n")
    env.ok("snapshot", "both", "--now", "2026-11-27T08:00:00Z")
    assert env.names("data") == ["data.20261127T080000Z"]
    assert env.names("logs") == ["logs.20261127T080000Z"]


def test_help_and_version():
    r = run(BINARY, "--help")
    assert "Usage: snaprotate" in r.stdout
    for verb in ("snapshot", "list", "delete", "pin", "unpin", "config-check"):
        assert verb in r.stdout
    assert run(BINARY, "--version").stdout.startswith("snaprotate ")


@pytest.mark.parametrize("argv, message", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    ([], "no command given"),
    (["snapshot"], "wrong number of arguments"),
    (["snapshot", "--kind", "weekly", "data"], "--kind 'weekly'"),
    (["list", "--pin"], "list does not take --pin"),
    (["list", "--bogus"], "invalid option '--bogus'"),
    (["snapshot", "nosuch"], "unknown volume or group 'nosuch'"),
    (["list", "--now", "soon"], "--now 'soon'"),
    (["snapshot", "--description", "a\nb", "data"], "control characters"),
])
def test_usage_errors_exit_2_and_change_nothing(env, argv, message):
    before = env.tree()
    r = env.run(*argv)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert env.tree() == before


def test_batched_and_plain_reads_agree(env):
    """From 16 snapshots on, list reads info.json in io_uring batches; the plain
    path (SNAPROTATE_NO_IO_URING) must see exactly the same, incomplete and
    foreign entries included."""
    for i in range(150):
        env.ok("snapshot", "--kind", "timeline", "data", "--now",
               f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00Z")
    names = env.names()
    (env.snapdir / "data.20261201T000000Z").mkdir()                   # incomplete
    (env.snapdir / names[5] / "info.json").write_text("{")              # damaged
    (env.snapdir / names[7] / "info.json").unlink()                     # a symlink instead
    os.symlink("/etc/hostname", env.snapdir / names[7] / "info.json")
    big = json.loads((env.snapdir / names[9] / "info.json").read_text())
    big["description"] = "x" * 6000                                    # over one read buffer
    (env.snapdir / names[9] / "info.json").write_text(json.dumps(big))
    batched = env.ok("list", "--json").stdout
    plain = env.ok("list", "--json", env={"SNAPROTATE_NO_IO_URING": "1"}).stdout
    assert batched == plain
    snaps = {s["name"]: s for s in json.loads(batched)["volumes"][0]["snapshots"]}
    assert len(snaps) == 151
    assert [n for n, s in snaps.items() if not s["complete"]] == [
        names[5], names[7], "data.20261201T000000Z"]
    assert snaps[names[9]]["description"] == "x" * 6000


def test_status_line_and_json(env):
    """status: newest, count, next due (by the finest bucket, or interval), the
    last run; no lock, nothing written."""
    env.write_config(extra_volume="retain = hourly=24 daily=7\n", extra="")
    r = env.run("status", "--json", "--now", "2026-11-27T09:10:00Z")
    assert r.returncode == 1                            # no timeline snapshot: a problem
    v = json.loads(r.stdout)["volumes"][0]
    assert v["count"] == 0 and v["newest"] is None and v["state"] == "CRITICAL"
    assert [p["text"] for p in v["problems"]] == ["no timeline snapshot yet"]
    assert v["next_due"] == "2026-11-27T09:10:00Z"     # nothing yet: due now
    env.ok("run", "--now", "2026-11-27T09:05:00Z", env={"TZ": "UTC"})
    env.ok("snapshot", "data", "--now", "2026-11-27T09:06:00Z")
    before = env.tree()
    r = env.ok("status", "--json", "--now", "2026-11-27T09:10:00Z", env={"TZ": "UTC"})
    v = json.loads(r.stdout)["volumes"][0]
    # "newest" is the newest timeline snapshot; the manual one after it is shown apart
    assert v["count"] == 2 and v["newest"] == "data.20261127T090500Z"
    assert v["newest_any"] == "data.20261127T090600Z" and v["kinds"]["manual"] == 1
    assert v["state"] == "OK" and v["problems"] == []
    # a manual snapshot does not count for the timeline: the next hour is
    assert v["next_due"] == "2026-11-27T10:00:00Z"
    assert v["last_run"]["success"] is True and v["last_run"]["time"] == "2026-11-27T09:05:00Z"
    assert v["merge_pending"] is False and v["pool"] is None and v["invalid"] == 0
    line = env.ok("status", "--now", "2026-11-27T09:10:00Z", env={"TZ": "UTC"}).stdout
    assert line.startswith("data: newest timeline data.20261127T090500Z (5m ago), 2 in all, "
                           "next due 2026-11-27 10:00:00 UTC; newest of any kind "
                           "data.20261127T090600Z (manual, 4m ago)"), line
    assert "last run 2026-11-27T09:05:00Z ok" in line
    env.write_config(extra_volume="retain = hourly=24\ninterval = 90m\n")
    v = json.loads(env.ok("status", "--json", "--now", "2026-11-27T09:10:00Z").stdout)["volumes"][0]
    assert v["next_due"] == "2026-11-27T10:35:00Z"
    assert env.tree() == before
    assert env.run("status", "nosuch").returncode == 2
