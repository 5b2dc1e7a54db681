"""The snapshot directory's layout (SPEC 5): made a subvolume when missing, a plain one
inside the volume warned about, and what a rollback by hand leaves (stale copies of
entries) listed as stale and removed by run, which then succeeds."""
import os
import stat

from conftest import run
from test_send import subvol_show


def is_subvolume(path):
    return os.stat(path).st_ino == 256


def test_a_missing_snapshot_dir_is_made_a_subvolume(env, btrfs):
    env.ok("snapshot", "data")
    assert is_subvolume(env.snapdir)
    assert stat.S_IMODE(os.stat(env.snapdir).st_mode) == 0o700
    # The default, PATH/.snapshots: a snapshot of the volume carries no copy of it.
    env.write_config(extra_volume="")
    env.conf.write_text(env.conf.read_text().replace(f"snapshot_dir = {env.snapdir}\n", ""))
    first = env.ok("snapshot", "data").stdout.strip()
    second = env.ok("snapshot", "data").stdout.strip()
    nested = env.data / ".snapshots"
    assert is_subvolume(nested)
    assert os.listdir(nested / second / "snapshot" / ".snapshots") == [], first
    r = env.ok("config-check")
    assert "warning" not in r.stderr, r.stderr


def test_a_plain_snapshot_dir_inside_the_volume_is_warned_about(env):
    plain = env.data / ".snapshots"
    plain.mkdir(mode=0o700)
    env.conf.write_text(env.conf.read_text().replace(f"snapshot_dir = {env.snapdir}",
                                                     f"snapshot_dir = {plain}"))
    env.ok("snapshot", "data")
    for verb in ("config-check", "status"):
        r = env.run(verb)
        # status also says (exit 1) that no timeline snapshot exists yet
        assert r.returncode == (0 if verb == "config-check" else 1), r
        assert f"warning: volume 'data': snapshot_dir '{plain}' is a plain directory inside " \
               "the volume" in r.stderr, (verb, r.stderr)


def test_after_a_rollback_by_hand_run_removes_the_stale_copies(env, btrfs):
    """The user's sequence: @ with a plain .snapshots inside (what older versions made),
    then `mv @ @.broken` and a writable snapshot put in its place."""
    at = btrfs.subvolume("@")
    (at / ".snapshots").mkdir(mode=0o700)
    (at / "etc").mkdir()
    env.write_config()
    env.conf.write_text(env.conf.read_text()
                        .replace(f"path = {env.data}", f"path = {at}")
                        .replace(f"snapshot_dir = {env.snapdir}", f"snapshot_dir = {at}/.snapshots"))
    names = []
    for day in (1, 2, 3):
        (at / "etc" / "state").write_text(f"day {day}\n")
        names.append(env.ok("snapshot", "data", "--now", f"2026-11-0{day}T12:00:00Z").stdout.strip())
    os.rename(at, btrfs.mnt / "@.broken")
    run("btrfs", "subvolume", "snapshot", btrfs.mnt / "@.broken/.snapshots" / names[1] / "snapshot", at)
    assert (at / "etc/state").read_text() == "day 2\n"
    snaps = env.snaps()
    stale = [s["name"] for s in snaps if s["stale"]]
    assert stale == names[:1], snaps           # the copy of day 1's entry; day 2's own was not
    assert all(not s["complete"] for s in snaps), snaps   # written yet when it was taken
    r = env.run("run", "--now", "2026-11-04T12:00:00Z")
    assert r.returncode == 0, r.stderr
    assert f"removed stale entry {names[0]}" in r.stdout + r.stderr, r.stdout + r.stderr
    snaps = env.snaps()
    assert [s["name"] for s in snaps if not s["complete"]] == [], snaps
    assert [s["kind"] for s in snaps] == ["timeline"], snaps
    # What the swap set aside is untouched: the real history is there.
    broken = btrfs.mnt / "@.broken/.snapshots"
    assert sorted(os.listdir(broken)) == names
    for n in names:
        assert subvol_show(broken / n / "snapshot")["Name"] == "snapshot"
    # A second run has nothing left to say.
    r = env.ok("run", "--now", "2026-11-04T13:00:00Z")
    assert "stale" not in r.stdout + r.stderr
