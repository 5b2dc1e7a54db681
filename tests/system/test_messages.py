"""What a new user meets first: messages that name the real cause once, output in the
order asked for, times with their zone, JSON errors with their reason (issue 12)."""
import json
import os
import re
import shutil
import tempfile

from conftest import BINARY, ROOT, run
from test_send import configure, sshd, target_fs  # noqa: F401 (fixtures)

ERRNO_TEXTS = ("Invalid argument", "Inappropriate ioctl", "No such file or directory: No such",
               "Operation not permitted", "Permission denied")


def one_cause(text):
    """No message restates its cause with an errno text."""
    return not any(t in text for t in ERRNO_TEXTS)


def test_not_root_says_so_once_and_exits_2(env):
    # A copy nobody may run, outside root's private directories.
    where = tempfile.mkdtemp(prefix="snaprotate-nobody-", dir="/tmp")
    try:
        os.chmod(where, 0o755)
        exe = os.path.join(where, "snaprotate")
        shutil.copy(BINARY, exe)
        os.chmod(exe, 0o755)
        for verb in (["list"], ["run"], ["snapshot", "data"], ["config-check"]):
            r = run("runuser", "-u", "nobody", "--", exe, "-c", env.conf, *verb, check=False)
            assert r.returncode == 2, (verb, r.returncode, r.stderr)
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and "needs root" in lines[0], r.stderr
            assert str(env.conf) not in r.stderr, r.stderr
    finally:
        shutil.rmtree(where)


def test_a_plain_directory_where_a_subvolume_should_be_mounted(env):
    d = env.data / "home"
    d.mkdir()
    env.conf.write_text(f"[volume home]\nbackend = btrfs\npath = {d}\n")
    os.chmod(env.conf, 0o600)
    r = env.run("snapshot", "home")
    assert r.returncode == 2, r.stderr
    assert "plain directory of the btrfs mounted at" in r.stderr, r.stderr
    assert "not mounted?" in r.stderr and one_cause(r.stderr), r.stderr


def test_another_filesystem_is_named_once(env, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    env.conf.write_text(f"[volume p]\nbackend = btrfs\npath = {plain}\n")
    os.chmod(env.conf, 0o600)
    # list goes on past a volume it cannot read, and fails (1): another may be fine.
    r = env.run("list", "p")
    assert r.returncode == 1 and "not btrfs" in r.stderr and one_cause(r.stderr), r.stderr
    missing = tmp_path / "missing"
    env.conf.write_text(f"[volume m]\nbackend = btrfs\npath = {missing}\n")
    r = env.run("list", "m")
    assert r.returncode == 1 and "does not exist" in r.stderr and one_cause(r.stderr), r.stderr


def test_snapshot_prints_names_in_argument_order(env, btrfs):
    other = btrfs.subvolume("aaa")
    env.write_config(extra=f"[volume aaa]\nbackend = btrfs\npath = {other}\n"
                           f"snapshot_dir = {btrfs.mnt}/snaps-aaa\n")
    for order in (["data", "aaa"], ["aaa", "data"]):
        r = env.ok("snapshot", *order)
        names = r.stdout.split()
        assert [n.split(".")[0] for n in names] == order, r.stdout
        doc = json.loads(env.ok("snapshot", "--json", *order).stdout)
        assert [s["volume"] for s in doc["snapshots"]] == order, doc


def test_list_says_the_time_zone(env):
    env.ok("snapshot", "data")
    r = env.ok("list", env={"TZ": "UTC"})
    assert "CREATED (UTC)" in r.stdout, r.stdout
    r = env.ok("list", env={"TZ": "Asia/Tokyo"})
    assert "CREATED (JST)" in r.stdout, r.stdout
    # Across a clock change one header cannot say it: each time says its own zone.
    env.ok("snapshot", "data", "--now", "2026-07-01T10:00:00Z")
    r = env.ok("list", env={"TZ": "Europe/Berlin"})
    assert "CREATED (" not in r.stdout and "CREATED" in r.stdout, r.stdout
    assert "2026-07-01 12:00:00 CEST" in r.stdout, r.stdout
    assert " CET " in r.stdout, r.stdout


def test_run_says_nothing_untrue_about_a_volume_it_could_not_load(env, tmp_path):
    env.write_config(extra=f"[volume gone]\nbackend = btrfs\npath = {tmp_path / 'nowhere'}\n")
    r = env.run("run")
    assert r.returncode != 0
    assert "gone: no timeline snapshot due" not in r.stdout, r.stdout
    assert "does not exist" in r.stderr and one_cause(r.stderr), r.stderr


def test_rollback_json_carries_the_reason(env, btrfs):
    # The top level of a filesystem has no name to swap: a reason to give.
    env.conf.write_text(env.conf.read_text().replace(f"path = {env.data}", f"path = {btrfs.mnt}"))
    env.ok("snapshot", "data")
    r = env.run("rollback", "--json", "data", "latest")
    assert r.returncode != 0
    doc = json.loads(r.stdout)
    assert doc["result"] == "failed" and "is the top level of its filesystem" in doc["error"], doc
    assert doc["error"] in r.stderr, (doc, r.stderr)


def test_a_remote_command_that_ends_is_not_a_network_error(env, target_fs, sshd):
    configure(env, target_fs, sshd)
    env.ok("snapshot", "data")
    keys = sshd.dir / "authorized_keys"
    pub = (sshd.dir / "client.pub").read_text().strip()
    keys.write_text(f'command="echo snaprotate: unknown option --root >&2; exit 2",restrict {pub}\n')
    r = env.run("send", "data")
    assert r.returncode == 1, r.stderr
    assert "No route to host" not in r.stderr, r.stderr
    assert "ended (exit status 2)" in r.stderr and "unknown option --root" in r.stderr, r.stderr
    # A port where nothing listens is ssh's own failure, and says so.
    sshd.stop()
    r = env.run("send", "data")
    assert r.returncode == 1 and "ssh to 127.0.0.1 failed" in r.stderr, r.stderr


def test_the_installed_example_works_on_a_btrfs_root(btrfs, tmp_path):
    """`make install` puts the example where the README copies it from, and its active
    part (a btrfs root volume) passes config-check as it is, on a btrfs machine: here
    the test filesystem stands in for /."""
    dest = tmp_path / "dest"
    run("make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}")
    example = dest / "etc/snaprotate/rotate.conf.example"
    assert (dest / "usr/local/sbin/snaprotate").is_file()
    readme = (ROOT / "README.md").read_text()
    assert "cp /etc/snaprotate/rotate.conf.example /etc/snaprotate/rotate.conf" in readme
    text = example.read_text()
    assert text.count("\npath = /\n") == 1 and text.count("\nsnapshot_dir = /.snapshots\n") == 1
    root = btrfs.subvolume("root")
    text = text.replace("\npath = /\n", f"\npath = {root}\n")
    text = text.replace("\nsnapshot_dir = /.snapshots\n", f"\nsnapshot_dir = {root}/.snapshots\n")
    text = text.replace("[global]\n", f"[global]\nlock_dir = {tmp_path}/lock\n"
                                      f"state_dir = {tmp_path}/state\n", 1)
    conf = tmp_path / "rotate.conf"
    conf.write_text(text)
    os.chmod(conf, 0o600)
    r = run(BINARY, "-c", conf, "config-check", check=False)
    assert r.returncode == 0, r.stderr
    assert "[volume root]" in r.stdout and "lvm" not in r.stdout and "[target" not in r.stdout
    # Every commented example key is one the parser knows: uncommented, they parse
    # (config-check then fails on the LVM VG and the ssh host, not on a key).
    active = "\n".join(l[1:] if l.startswith("#") and ("=" in l or l.startswith("#["))
                       and not l.startswith("# ") else l for l in text.splitlines())
    conf.write_text(active + "\n")
    r = run(BINARY, "-c", conf, "config-check", check=False)
    assert "unknown key" not in r.stderr and "unknown section" not in r.stderr, r.stderr


def _chroot_with_snaprotate(where):
    """A root holding the binary and the libraries it links, nothing mounted in it."""
    for lib in re.findall(r"(/\S+\.so[.\d]*) \(0x", run("ldd", BINARY).stdout):
        dst = where / lib.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, dst)
    (where / "usr/sbin").mkdir(parents=True)
    shutil.copy(BINARY, where / "usr/sbin/snaprotate")
    (where / "etc").mkdir()
    (where / "proc").mkdir()


def test_in_a_chroot_whose_root_is_not_a_mount_point(btrfs):
    """A rescue chroot into a plain directory of a btrfs (no mount table entry for its
    /, with or without /proc): a nested subvolume is snapshotted, and a plain directory
    is said to be one, not 'cannot find the mount'."""
    root = btrfs.mnt / "chroot"
    root.mkdir()
    _chroot_with_snaprotate(root)
    run("btrfs", "subvolume", "create", root / "data")
    (root / "plain").mkdir()
    (root / "etc/rotate.conf").write_text(
        "[global]\nlock_dir = /lock\nstate_dir = /state\n\n"
        "[volume data]\nbackend = btrfs\npath = /data\n\n"
        "[volume plain]\nbackend = btrfs\npath = /plain\n")
    os.chmod(root / "etc/rotate.conf", 0o600)
    proc = root / "proc"
    try:
        for with_proc in (False, True):
            if with_proc:
                run("mount", "-t", "proc", "proc", proc)
            r = run("chroot", root, "/usr/sbin/snaprotate", "-c", "/etc/rotate.conf",
                    "snapshot", "data", check=False)
            assert r.returncode == 0, (with_proc, r.stderr)
            assert r.stdout.startswith("data."), r.stdout
            r = run("chroot", root, "/usr/sbin/snaprotate", "-c", "/etc/rotate.conf",
                    "list", "plain", check=False)
            assert r.returncode == 1, r.stderr
            assert "'/plain' is not a btrfs subvolume" in r.stderr, (with_proc, r.stderr)
            assert "cannot find the mount" not in r.stderr and one_cause(r.stderr), r.stderr
    finally:
        if os.path.ismount(proc):
            run("umount", proc)


def test_quiet_still_prints_the_new_name(env):
    """pre=$(snaprotate -q snapshot --kind pre ...) in a hook must get the name."""
    r = env.ok("-q", "snapshot", "--kind", "pre", "data")
    pre = r.stdout.strip()
    assert pre.startswith("data.") and len(r.stdout.splitlines()) == 1, r.stdout
    r = env.ok("-q", "snapshot", "--pre", pre, "data")
    assert r.stdout.strip().startswith("data.") and r.stdout.strip() != pre, r.stdout
