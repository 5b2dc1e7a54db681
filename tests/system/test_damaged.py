"""A snapshot whose info.json is damaged is not what a crash leaves: it is
listed as damaged, kept by prune and run (which say so and still succeed), and
deleted only with --force. What list shows of names found on disk cannot fake
a row or reach the terminal as control characters."""
import json
import os
import subprocess

import pytest

from conftest import run

NAME = "data.20261127T100000Z"


def info_of(env, name=NAME):
    return json.loads((env.snapdir / name / "info.json").read_text())


def write_info(env, doc, name=NAME):
    (env.snapdir / name / "info.json").write_text(json.dumps(doc))


DAMAGE = {
    "a trailing comma": lambda env: (env.snapdir / NAME / "info.json").write_text(
        (env.snapdir / NAME / "info.json").read_text().rstrip().rstrip("}") + ", }"),
    "a wrong type": lambda env: write_info(env, {**info_of(env), "pinned": "yes"}),
    "another snapshot's name": lambda env: write_info(
        env, {**info_of(env), "name": "data.20261127T090000Z"}),
    "a bad sent_to": lambda env: write_info(env, {**info_of(env), "sent_to": {"nas": 5}}),
    "a created time in 9999": lambda env: write_info(
        env, {**info_of(env), "created": "9999-11-27T10:00:00Z"}),
    "too large": lambda env: write_info(env, {**info_of(env), "description": "x" * 70000}),
    "a symlink": lambda env: (os.unlink(env.snapdir / NAME / "info.json"),
                              os.symlink("/etc/hostname", env.snapdir / NAME / "info.json")),
    "a FIFO": lambda env: (os.unlink(env.snapdir / NAME / "info.json"),
                           os.mkfifo(env.snapdir / NAME / "info.json")),
    "no info.json and a stranger's file": lambda env: (
        os.unlink(env.snapdir / NAME / "info.json"),
        (env.snapdir / NAME / "notes").write_text("mine")),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_snapshot_is_kept_and_reported(env, damage):
    for t in ("08", "09", "10", "11"):
        env.ok("snapshot", "--kind", "timeline", "data", "--now", f"2026-11-27T{t}:00:00Z")
    env.ok("pin", "data", NAME)
    DAMAGE[damage](env)
    r = env.run("list", "--json", timeout=30)          # a FIFO must not make it wait
    snaps = {s["name"]: s for s in json.loads(r.stdout)["volumes"][0]["snapshots"]}
    assert snaps[NAME]["complete"] is False
    assert snaps[NAME]["damaged"] is True and snaps[NAME]["problem"], snaps[NAME]
    assert "DAMAGED" in env.ok("list").stdout
    # latest is the newest complete one, never a damaged one
    env.ok("pin", "data", "latest")
    assert snaps["data.20261127T110000Z"]["name"] in [s["name"] for s in env.snaps()
                                                      if s["pinned"]]
    # prune and run keep it, say why, and succeed (also the second time)
    env.write_config(extra_volume="retain = hourly=1\n")
    for argv in (["prune"], ["prune"], ["run", "--now", "2026-11-28T12:00:00Z"]):
        r = env.run(*argv)
        assert r.returncode == 0, r.stderr
        assert f"{NAME} is damaged" in r.stderr, r.stderr
        assert (env.snapdir / NAME / "snapshot").is_dir(), argv
    out = json.loads(env.ok("prune", "--json").stdout)
    decisions = {d["name"]: d for d in out["volumes"][0]["decisions"]}
    assert decisions[NAME]["action"] == "keep" and decisions[NAME]["reasons"] == ["damaged"]
    # delete refuses without --force, and deletes it with
    r = env.run("delete", "data", NAME)
    assert r.returncode == 1 and "damaged" in r.stderr
    assert (env.snapdir / NAME / "snapshot").is_dir()
    if damage != "no info.json and a stranger's file":
        env.ok("delete", "--force", "data", NAME)
        assert not (env.snapdir / NAME).exists()


def test_a_fifo_never_makes_list_wait(env):
    """Both ways of reading: one at a time, and batched (io_uring) from 16 on."""
    for i in range(20):
        env.ok("snapshot", "data", "--now", f"2026-11-27T10:{i:02d}:00Z")
    for victim in ("data.20261127T100000Z", "data.20261127T101900Z"):
        os.unlink(env.snapdir / victim / "info.json")
        os.mkfifo(env.snapdir / victim / "info.json")
    for extra in ({}, {"SNAPROTATE_NO_IO_URING": "1"}):
        r = env.run("list", "--json", env=extra, timeout=30)
        assert r.returncode == 0, r.stderr
        damaged = [s["name"] for s in json.loads(r.stdout)["volumes"][0]["snapshots"]
                   if s["damaged"]]
        assert damaged == ["data.20261127T100000Z", "data.20261127T101900Z"]


def test_a_plain_directory_named_like_a_snapshot(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    d = env.snapdir / "data.20261127T090000Z"
    (d / "snapshot").mkdir(parents=True)
    (d / "snapshot" / "file").write_text("someone's")
    for _ in range(2):
        r = env.run("prune")
        assert r.returncode == 0, r.stderr
        assert "is damaged" in r.stderr
    assert (d / "snapshot" / "file").read_text() == "someone's"


def test_crash_leftovers_are_still_removed(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    empty = env.snapdir / "data.20261127T090000Z"
    empty.mkdir()
    half = env.snapdir / "data.20261127T100000Z"
    half.mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", env.data, half / "snapshot")
    (half / ".info.json.tmp").write_text('{"format": 1')
    r = env.ok("prune")
    assert not empty.exists() and not half.exists()
    assert "removed incomplete data.20261127T100000Z" in r.stdout


def test_names_on_disk_cannot_fake_rows_or_reach_the_terminal(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    # A description with an escape sequence: refused on the command line, but
    # an info.json can be edited (or be a copy from anywhere).
    write_info(env, {**info_of(env, "data.20261127T080000Z"), "description": "mine\x1b[2J"},
               name="data.20261127T080000Z")
    (env.snapdir).joinpath("evil\n  data.20991231T000000Z  fake").write_text("x")
    (env.snapdir).joinpath("bell\x07\x1b]0;title\x07").write_text("x")
    (env.snapdir).joinpath("caf\xe9-ok").write_text("x")
    out = env.ok("list").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x0a  data.20991231T000000Z  fake" in out
    assert "bell\\x07\\x1b]0;title\\x07" in out
    assert "café-ok" in out
    assert "mine\\x1b[2J" in out
    # one row per entry: the header line, the column line, and 4 entries
    assert len(out.splitlines()) == 2 + 4
    out = env.ok("prune", "--dry-run").stdout
    assert "\x1b" not in out and "evil\\x0a" in out
