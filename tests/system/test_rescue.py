"""Rescue mode (SPEC 7): no config file, the top level of a btrfs laid out like a
distribution (@ with an /etc/fstab, @home, @snapshots) mounted at --fs; list and status
find the volumes from their snapshots' info.json, and rollback of the root takes effect
the way that fstab mounts it: by name (subvol=@), by id (subvolid=, rewritten in the new
root's fstab), or as the default subvolume."""
import os
import shutil

import pytest

from conftest import BINARY, ROOT, run
from test_rollback import digest


def rescue(fs, *args, check=True):
    r = run(BINARY, "--fs", fs, *args, check=False)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def subvol_id(path):
    for line in run("btrfs", "subvolume", "show", path).stdout.splitlines():
        if line.strip().startswith("Subvolume ID:"):
            return int(line.split(":")[1])
    raise AssertionError(path)


@pytest.fixture
def distro(btrfs, tmp_path):
    """Snapshots taken with a config, as on the running system; then the config is gone."""
    m = btrfs.mnt
    for sv in ("@", "@home", "@snapshots"):
        btrfs.subvolume(sv)
    (m / "@/etc").mkdir()
    (m / "@home/user").mkdir()
    conf = tmp_path / "rotate.conf"
    conf.write_text(f"[global]\nlock_dir = {tmp_path}/lock\nstate_dir = {tmp_path}/state\n\n"
                    f"[volume root]\nbackend = btrfs\npath = {m}/@\nsnapshot_dir = {m}/@snapshots\n\n"
                    f"[volume home]\nbackend = btrfs\npath = {m}/@home\n")
    os.chmod(conf, 0o600)

    def fstab(options):
        (m / "@/etc/fstab").write_text(f"UUID=x / btrfs {options} 0 0\n"
                                       "UUID=x /home btrfs subvol=@home 0 0\n\n# kept\n")

    def take(when, state):
        (m / "@/etc/state").write_text(state)
        (m / "@home/user/notes").write_text(state)
        for vol in ("root", "home"):
            run(BINARY, "-c", conf, "snapshot", vol, "--now", when)
        return digest(m / "@")
    return m, fstab, take


def mounted_root(btrfs, tmp_path, options):
    """What a boot with this fstab line would mount as /."""
    where = tmp_path / "boot"
    where.mkdir(exist_ok=True)
    run("mount", *(["-o", options] if options else []), btrfs.loop, where)
    try:
        return digest(where), (where / "etc/state").read_text()
    finally:
        run("umount", where)


def test_list_and_status_find_the_volumes(distro):
    m, fstab, take = distro
    fstab("subvol=@")
    take("2026-11-27T10:00:00Z", "A")
    r = rescue(m, "list", "--json")
    import json
    vols = {v["volume"]: [s["name"] for s in v["snapshots"]] for v in json.loads(r.stdout)["volumes"]}
    assert vols == {"root": ["root.20261127T100000Z"], "home": ["home.20261127T100000Z"]}, vols
    r = rescue(m, "status", check=False)
    # manual snapshots only: each volume is shown, with "no timeline snapshot" (exit 1)
    assert r.returncode == 1 and "CRITICAL: no timeline snapshot yet" in r.stdout, r.stdout
    assert "newest of any kind root.20261127T100000Z (manual" in r.stdout, r.stdout
    assert "newest of any kind home.20261127T100000Z (manual" in r.stdout
    r = rescue(m, "config-check")
    assert f"path = {m}/@\n" in r.stdout and f"snapshot_dir = {m}/@snapshots\n" in r.stdout
    assert f"snapshot_dir = {m}/@home/.snapshots\n" in r.stdout


@pytest.mark.parametrize("pin", ["subvol", "subvolid", "default"])
def test_root_rollback_takes_effect_as_fstab_mounts_it(distro, btrfs, tmp_path, pin):
    m, fstab, take = distro
    at = m / "@"
    if pin == "subvol":
        fstab("subvol=@")
    elif pin == "subvolid":
        fstab(f"subvolid={subvol_id(at)}")
    else:
        fstab("defaults")
        run("btrfs", "subvolume", "set-default", at)
    want = take("2026-11-27T10:00:00Z", "A")
    take("2026-11-27T11:00:00Z", "B")
    r = rescue(m, "rollback", "root", "root.20261127T100000Z", "--now", "2026-11-27T12:00:00Z")
    assert (at / "etc/state").read_text() == "A"
    if pin != "subvolid":              # there the fstab is the snapshot's, rewritten
        assert digest(at) == want
    line = (at / "etc/fstab").read_text().splitlines()[0]
    options = line.split()[3]
    if pin == "subvol":
        assert options == "subvol=@"
    elif pin == "subvolid":
        assert options == f"subvolid={subvol_id(at)}", (line, r.stdout)
        # Only that option changed: the other lines, blank and comment too, stay.
        assert (at / "etc/fstab").read_text().split("\n")[1:] == \
            ["UUID=x /home btrfs subvol=@home 0 0", "", "# kept", ""]
        assert "its /etc/fstab mounts subvolid=" in r.stdout, r.stdout
    else:
        assert "it is the default subvolume now" in r.stdout, r.stdout
        options = ""
    assert mounted_root(btrfs, tmp_path, options)[1] == "A"
    # The history is all there, and the state before the rollback kept.
    names = [s["name"] for s in __import__("json").loads(
        rescue(m, "list", "--json", "root").stdout)["volumes"][0]["snapshots"]]
    assert names == ["root.20261127T100000Z", "root.20261127T110000Z", "root.20261127T120000Z"]


def test_a_mounted_subvolume_is_not_the_top_level(btrfs, tmp_path):
    btrfs.subvolume("@")
    where = tmp_path / "sub"
    where.mkdir()
    run("mount", "-o", "subvol=@", btrfs.loop, where)
    try:
        r = rescue(where, "list", check=False)
        assert r.returncode == 2 and "not the top level: mount it with -o subvolid=5" in r.stderr
    finally:
        run("umount", where)
    r = rescue(tmp_path, "list", check=False)
    assert r.returncode == 2 and "is not on btrfs" in r.stderr, r.stderr


def test_the_rescue_bundle_in_a_busybox_chroot(distro, btrfs, tmp_path):
    """A root holding nothing but busybox and the bundle, no config: list and rollback."""
    m, fstab, take = distro
    fstab("subvol=@")
    take("2026-11-27T10:00:00Z", "A")
    take("2026-11-27T11:00:00Z", "B")
    root = tmp_path / "rescue-root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(shutil.which("busybox"), root / "bin/busybox")
    for tool in ("sh", "readlink", "dirname", "cat"):
        os.symlink("busybox", root / "bin" / tool)
    bundle = run(ROOT / "scripts/rescue.sh", BINARY, tmp_path / "out").stdout.strip()
    shutil.copytree(bundle, root / "rescue")
    assert not (root / "lib").exists() and not (root / "usr").exists()
    (root / "mnt").mkdir()
    (root / "run").mkdir()
    run("mount", "-o", "subvolid=5", btrfs.loop, root / "mnt")
    try:
        r = run("chroot", root, "/bin/sh", "-c", "/rescue/snaprotate --fs /mnt list root")
        assert "root.20261127T100000Z" in r.stdout and "root.20261127T110000Z" in r.stdout
        run("chroot", root, "/bin/sh", "-c",
            "/rescue/snaprotate --fs /mnt rollback root root.20261127T100000Z")
        assert (root / "mnt/@/etc/state").read_text() == "A"
    finally:
        run("umount", root / "mnt")
    assert (m / "@/etc/state").read_text() == "A"


def test_the_initramfs_hook_copies_what_the_bundle_would(tmp_path):
    """The initramfs-tools hook, run as mkinitramfs runs it (DESTDIR), on the built binary."""
    hook = tmp_path / "hook"
    hook.write_text((ROOT / "pkg/initramfs-tools/snaprotate").read_text()
                    .replace("copy_exec /usr/sbin/snaprotate /usr/sbin/",
                             f"copy_exec {BINARY} /usr/sbin/snaprotate"))
    dest = tmp_path / "initramfs"
    dest.mkdir()
    run("sh", hook, env={"DESTDIR": str(dest), "PATH": os.environ["PATH"], "verbose": "n"})
    assert (dest / "usr/sbin/snaprotate").is_file(), sorted(str(p) for p in dest.rglob("*"))
    found = {p.name for p in dest.rglob("*.so*")}
    for lib in ("libbtrfsutil.so.1", "libmount.so.1", "libjson-c.so.5", "liblvm2cmd.so.2.03"):
        assert lib in found, (lib, sorted(found))
