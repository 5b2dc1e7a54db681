"""Config errors: exit 2, FILE:LINE in the message, nothing on disk changed."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BINARY, ROOT, run

DATA = ROOT / "tests" / "data"
EXPECTED = ROOT / "tests" / "expected"


@pytest.mark.parametrize("extra, line, message", [
    ("retian = daily=7\n", 9, "unknown key 'retian'"),
    ("retain = daily=7 # a week\n", 9, "comments must be whole lines"),
    ("interval = 1 hour\n", 9, "interval = '1 hour'"),
    ("backend = lvm\n", 9, "duplicate key 'backend' (first set on line 6)"),
    ("\n[volume data]\nbackend = btrfs\n", 10, "duplicate section [volume data]"),
    ("\n[volume bad/name]\n", 10, "volume name 'bad/name'"),
    ("\n[frobs]\n", 10, "unknown section [frobs]"),
    ("targets = nas\n", 9, "targets: no [target nas] section"),
    ("this line has no equals sign\n", 9, "expected 'key = value'"),
    ("lv = vg0/data\n", 9, "'lv' is for lvm volumes"),
])
def test_bad_config_exits_2_with_the_line(env, extra, line, message):
    env.write_config(extra_volume=extra)
    before = env.tree()
    for argv in (["config-check"], ["snapshot", "data"], ["list"]):
        r = env.run(*argv)
        assert r.returncode == 2, (argv, r.stderr)
        assert f"{env.conf}:{line}: " in r.stderr, r.stderr
        assert message in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
    assert env.tree() == before
    assert not env.snapdir.exists()


def test_freeze_with_btrfs_member_is_an_error(env):
    env.write_config(extra="[group g]\nvolumes = data\nfreeze = yes\n")
    r = env.run("config-check")
    assert r.returncode == 2 and "freeze = yes with btrfs volume 'data'" in r.stderr


def test_config_writable_by_others_is_refused(env):
    os.chmod(env.conf, 0o622)
    r = env.run("snapshot", "data")
    assert r.returncode == 2 and str(env.conf) in r.stderr and "writable" in r.stderr
    os.chmod(env.conf, 0o600)
    os.chown(env.conf, 65534, 0)
    r = env.run("list")
    assert r.returncode == 2 and "owned by root" in r.stderr
    assert not env.snapdir.exists()


def test_missing_config(tmp_path):
    r = run(BINARY, "-c", tmp_path / "nope.conf", "list", check=False)
    assert r.returncode == 2 and "nope.conf" in r.stderr


def test_path_that_is_not_btrfs(env, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    env.conf.write_text(f"[global]\nlock_dir = {env.lockdir}\n[volume p]\nbackend = btrfs\n"
                        f"path = {plain}\n")
    r = env.run("snapshot", "p")
    assert r.returncode == 2
    assert f"{env.conf}:5: " in r.stderr and "not btrfs" in r.stderr


def test_path_that_is_a_directory_not_a_subvolume(env):
    d = env.data / "dir"
    d.mkdir()
    env.conf.write_text(f"[volume p]\nbackend = btrfs\npath = {d}\n")
    os.chmod(env.conf, 0o600)
    r = env.run("config-check")
    assert r.returncode == 2 and f"{env.conf}:3: " in r.stderr
    assert "not a btrfs subvolume" in r.stderr


def test_snapshot_dir_on_another_filesystem(env, tmp_path):
    other = tmp_path / "elsewhere" / "snaps"
    env.conf.write_text(f"[global]\nlock_dir = {env.lockdir}\n[volume data]\nbackend = btrfs\n"
                        f"path = {env.data}\nsnapshot_dir = {other}\n")
    r = env.run("snapshot", "data")
    assert r.returncode == 2
    assert f"{env.conf}:6: " in r.stderr and "not on the btrfs filesystem" in r.stderr
    assert not other.exists()


def test_config_check_golden(env):
    """config-check prints the normalised config (tests/expected/*.out)."""
    for conf in sorted(DATA.glob("*.conf")):
        text = conf.read_text().replace("@MNT@", str(env.fs.mnt))
        env.conf.write_text(text)
        os.chmod(env.conf, 0o600)
        r = env.run("config-check")
        assert r.returncode == 0, r.stderr
        expected = (EXPECTED / (conf.stem + ".out")).read_text()
        assert r.stdout == expected.replace("@MNT@", str(env.fs.mnt)), conf.name


def test_snapshot_dir_spelled_differently_is_still_the_path(env):
    text = env.conf.read_text()
    for spelling in (f"{env.data}/", f"{env.data}//", f"{env.data}/."):
        env.conf.write_text(text.replace(f"snapshot_dir = {env.snapdir}",
                                         f"snapshot_dir = {spelling}"))
        r = env.run("config-check")
        assert r.returncode == 2, spelling
        assert "snapshot_dir must not be the volume's path itself" in r.stderr, r.stderr


def test_a_long_volume_name_is_named_as_such(env):
    env.conf.write_text(env.conf.read_text() + "\n[volume " + "v" * 150 + "]\n")
    r = env.run("config-check")
    assert r.returncode == 2
    assert "volume name 'vvvv" in r.stderr and "unknown section" not in r.stderr
