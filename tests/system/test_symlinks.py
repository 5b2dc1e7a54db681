"""Symlinks and other entries a local attacker (or an accident) plants where snaprotate
reads and writes (#16): in the snapshot directory (as an entry, as its `snapshot`,
as its info.json) and in the state directory (the last-run record, the package pair).
None of them redirects a read, a write or a delete; a FIFO never makes a command wait."""
import fcntl
import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import BINARY, Serve, run, send_stream, subvol_uuid
from test_rescue import distro, rescue  # noqa: F401
from test_send import Sshd, complete_copies, copies, target_fs  # noqa: F401

T0 = "2026-12-01T10:00:00Z"


def fs_digest(path):
    out = []
    for d, dirs, files in os.walk(path):
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            out.append((os.path.relpath(p, path), st.st_mode, st.st_size))
    return sorted(out)


def test_an_entry_that_is_a_symlink_is_never_followed(env, btrfs):
    """A symlink named like a snapshot, pointing at a real entry elsewhere (its
    snapshot subvolume and a valid info.json of that name): not complete, never
    deleted through, whatever prune or delete are asked."""
    env.write_config(extra_volume="retain = hourly=1\n")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", T0)
    planted = "data.20261201T090000Z"
    outside = btrfs.mnt / "outside"
    outside.mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", env.data, outside / "snapshot")
    info = json.loads((env.snapdir / env.names()[0] / "info.json").read_text())
    info.update(name=planted, created="2026-12-01T09:00:00Z")
    (outside / "info.json").write_text(json.dumps(info))
    os.symlink(outside, env.snapdir / planted)
    before = fs_digest(outside)
    snaps = {s["name"]: s for s in env.snaps()}
    assert planted in snaps and not snaps[planted]["complete"], snaps
    env.run("prune", "--now", "2026-12-01T12:00:00Z")
    env.run("run", "--now", "2026-12-01T12:00:00Z")
    r = env.run("delete", "--force", "data", planted)
    assert r.returncode != 0, r.stdout
    assert fs_digest(outside) == before
    assert (outside / "snapshot").is_dir() and os.path.islink(env.snapdir / planted)


def test_a_snapshot_that_is_a_symlink_to_the_volume_is_not_deleted_through(env):
    """NAME/snapshot replaced by a symlink to the live volume: deleting NAME must
    not delete (or empty) the volume."""
    (env.data / "precious").write_text("keep me\n")
    env.ok("snapshot", "data", "--now", T0)
    name = env.names()[0]
    run("btrfs", "subvolume", "delete", env.snapdir / name / "snapshot")
    os.symlink(env.data, env.snapdir / name / "snapshot")
    env.run("delete", "--force", "data", name)
    env.run("prune", "--now", "2026-12-09T12:00:00Z")
    env.run("run", "--now", "2026-12-09T12:00:00Z")
    assert (env.data / "precious").read_text() == "keep me\n"
    assert run("btrfs", "subvolume", "show", env.data, check=False).returncode == 0


def test_state_files_that_are_symlinks_are_not_read_or_written_through(env, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text('{"precious": true}\n')
    state = env.base / "state"
    state.mkdir()
    os.symlink(victim, state / "data.json")
    os.symlink(victim, state / "data.pkg.json")
    env.write_config(extra_volume="retain = hourly=24\npkg_snapshots = yes\n")
    r = env.run("status", "--now", T0, timeout=30)
    assert "a symbolic link" in r.stdout, r.stdout
    env.ok("run", "--now", T0)
    r = env.run("pkg-pre", "--tool", "apt", "--now", "2026-12-01T10:05:00Z",
                input="VERSION 3\nAPT::Architecture=amd64\n\np - - none < 1.0-1 all none /x/p.deb\n")
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == '{"precious": true}\n'
    # Replaced by files of its own, not written through.
    assert not os.path.islink(state / "data.json") and not os.path.islink(state / "data.pkg.json")
    assert json.loads((state / "data.json").read_text())["success"] is True


def test_a_fifo_in_place_of_a_state_file_never_blocks(env):
    state = env.base / "state"
    state.mkdir()
    os.mkfifo(state / "data.json")
    os.mkfifo(state / "data.pkg.json")
    env.write_config(extra_volume="retain = hourly=24\npkg_snapshots = yes\n")
    r = env.run("status", "--now", T0, timeout=30)
    assert "not a regular file" in r.stdout, r.stdout
    r = env.run("check", "--now", T0, timeout=30)
    assert r.returncode == 2
    r = env.run("run", "--now", T0, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (state / "data.json").is_file()


def test_a_planted_temporary_file_is_never_reused(env):
    """A FIFO, or a file another user owns, at NAME/.info.json.tmp (where info.json
    is written first): pin neither blocks on the FIFO nor writes into that file,
    which would leave info.json owned by that user once renamed into place."""
    env.ok("snapshot", "data", "--now", T0)
    env.ok("snapshot", "data", "--now", "2026-12-01T11:00:00Z")
    fifo_name, file_name = env.names()
    os.mkfifo(env.snapdir / fifo_name / ".info.json.tmp")
    planted = env.snapdir / file_name / ".info.json.tmp"
    planted.write_text("{}")
    os.chown(planted, 65534, 65534)
    for name in (fifo_name, file_name):
        r = env.run("pin", "data", name, timeout=30)
        assert r.returncode == 0, r.stderr
        info = env.snapdir / name / "info.json"
        st = os.lstat(info)
        assert st.st_uid == 0 and st.st_gid == 0 and (st.st_mode & 0o7777) == 0o644, st
        assert json.loads(info.read_text())["pinned"] is True
        assert not os.path.lexists(env.snapdir / name / ".info.json.tmp")


# _IOWR(BTRFS_IOCTL_MAGIC, 37, struct btrfs_ioctl_received_subvol_args), 200 bytes
BTRFS_IOC_SET_RECEIVED_SUBVOL = 0xc0c89425


def forge(src, path, claims):
    """A read-only subvolume at path: a snapshot of src with a file of its own, announced
    (its received uuid, which a send stream carries as its uuid) as subvolume claims."""
    run("btrfs", "subvolume", "snapshot", src, path)
    (path / "planted").write_text("not from the volume\n")
    args = bytearray(200)
    args[:16] = uuid.UUID(claims).bytes
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, BTRFS_IOC_SET_RECEIVED_SUBVOL, args)
    finally:
        os.close(fd)
    run("btrfs", "property", "set", "-ts", path, "ro", "true")


@pytest.mark.parametrize("swap", ["symlink", "subvolume"])
def test_send_sends_only_the_snapshot_its_info_names(env, target_fs, tmp_path, swap):
    """NAME/snapshot replaced, after send listed it complete, by a symlink to another
    read-only subvolume, or by another subvolume: one that claims to be the snapshot
    (its received uuid), so the target would take it. Send refuses; the target never
    holds it. The swap is done by the ssh ProxyCommand, which runs between the listing
    and the send."""
    sshd = Sshd(tmp_path, target_fs.mnt / "backup")
    try:
        section = sshd.target_section("nas", target_fs.mnt / "backup", "retain = hourly=24\n")
        env.write_config(extra_volume="retain = hourly=24\ntargets = nas\n", extra=section)
        (env.data / "file").write_text("the volume's\n")
        env.ok("snapshot", "data", "--now", T0)
        env.ok("send", "data", "--now", T0)
        env.ok("snapshot", "data", "--now", "2026-12-01T11:00:00Z")
        first, second = env.names()
        snap = env.snapdir / second / "snapshot"
        if swap == "symlink":
            # Named "snapshot" too, as the stream says.
            (env.fs.mnt / "elsewhere").mkdir()
            forged = env.fs.mnt / "elsewhere" / "snapshot"
            plant = f"ln -s {forged} {snap}"
        else:
            # Beside it: a read-only subvolume is renamed only within its directory.
            forged = env.snapdir / second / "forged"
            plant = f"mv {forged} {snap}"
        forge(env.snapdir / first / "snapshot", forged, subvol_uuid(snap))
        proxy = tmp_path / "proxy"
        proxy.write_text(f"#!/bin/sh\nmv {snap} {snap}.real && {plant}\n"
                         f"exec socat - TCP:127.0.0.1:{sshd.port}\n")
        proxy.chmod(0o755)
        env.write_config(extra_volume="retain = hourly=24\ntargets = nas\n",
                         extra=section.replace("ssh_options = ",
                                               f"ssh_options = -oProxyCommand={proxy} "))
        r = env.run("send", "data", "--now", "2026-12-01T11:00:00Z")
        assert os.path.lexists(snap) and os.path.lexists(f"{snap}.real"), r.stderr  # swapped
        assert r.returncode != 0 and "not sending it" in r.stderr, r.stderr
        assert copies(target_fs) == [first] and complete_copies(target_fs) == [first]
        for d, _, files in os.walk(target_fs.mnt / "backup"):
            assert "planted" not in files, d
    finally:
        sshd.stop()


# A race an attacker who can write the directory runs, won every time: at the
# (SWAP_SKIP + 1)th use of the path SWAP_AT (opened, stat'ed, or deleted as a
# subvolume, relative to a directory fd or the working directory), the entry
# SWAP_NAME there is moved aside and a symlink to SWAP_TO put in its place.
SWAP_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/btrfs.h>

static void swap(int dfd, const char *path)
{
	static int seen;
	const char *at = getenv("SWAP_AT"), *name = getenv("SWAP_NAME"), *to = getenv("SWAP_TO");
	char aside[300];

	if (!at || !name || !to || !path || strcmp(path, at) != 0 ||
	    seen++ != atoi(getenv("SWAP_SKIP") ?: "0"))
		return;
	snprintf(aside, sizeof(aside), "%s.swapped-away", name);
	renameat(dfd, name, dfd, aside);
	symlinkat(to, dfd, name);
}

int openat(int dfd, const char *path, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!real)
		real = dlsym(RTLD_NEXT, "openat");
	swap(dfd, path);
	return real(dfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!real)
		real = dlsym(RTLD_NEXT, "open");
	swap(AT_FDCWD, path);
	return real(path, flags, mode);
}

int fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	static int (*real)(int, const char *, struct stat *, int);

	if (!real)
		real = dlsym(RTLD_NEXT, "fstatat");
	swap(dfd, path);
	return real(dfd, path, st, flags);
}

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = dlsym(RTLD_NEXT, "syscall");
	if (nr == SYS_openat2)
		swap((int)a[0], (const char *)a[1]);
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = dlsym(RTLD_NEXT, "ioctl");
	if (req == BTRFS_IOC_SNAP_DESTROY)
		swap(fd, ((struct btrfs_ioctl_vol_args *)arg)->name);
	if (req == BTRFS_IOC_SNAP_DESTROY_V2)
		swap(fd, ((struct btrfs_ioctl_vol_args_v2 *)arg)->name);
	return real(fd, req, arg);
}
"""


def swap_shim(tmp_path):
    """The shim above, built; its LD_PRELOAD environment is swap_env()."""
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler for the swapping shim")
    (tmp_path / "shim.c").write_text(SWAP_SHIM)
    run(cc, "-shared", "-fPIC", "-o", tmp_path / "shim.so", tmp_path / "shim.c", "-ldl")
    return tmp_path / "shim.so"


def swap_env(shim, at, to, name=None, skip=0):
    # An ASan build wants its runtime first; the shim before it is harmless.
    return {"LD_PRELOAD": str(shim), "SWAP_AT": at, "SWAP_NAME": name or at, "SWAP_TO": str(to),
            "SWAP_SKIP": str(skip), "ASAN_OPTIONS": "verify_asan_link_order=0"}


def serve_once(root, line, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([str(BINARY), "serve", "--root", str(root)], input=line + "\n",
                          env=e, capture_output=True, text=True, timeout=60)


def test_a_staged_name_swapped_for_a_symlink_is_not_deleted_through(btrfs, tmp_path):
    """A serve removes what an interrupted transfer staged (.incoming.*, .deleting.*)
    in a volume's directory. Swapped, between its check and its delete, for a symlink
    to a subvolume elsewhere: nothing nested in that subvolume is deleted. A staged
    subvolume with one nested in it still goes whole."""
    shim = swap_shim(tmp_path)
    root = btrfs.mnt / "backup"
    root.mkdir()
    vol = root / "data"
    run("btrfs", "subvolume", "create", vol)
    victim = btrfs.subvolume("victim")
    run("btrfs", "subvolume", "create", victim / "inner")
    run("btrfs", "subvolume", "create", vol / ".incoming.x")
    (vol / ".deleting.y").mkdir()
    run("btrfs", "subvolume", "create", vol / ".deleting.y" / "snapshot")
    (vol / ".deleting.y" / "snapshot" / "d").mkdir()
    run("btrfs", "subvolume", "create", vol / ".deleting.y" / "snapshot" / "d" / "nested")
    # Swapped right after the check (fstatat) that found it a subvolume.
    r = serve_once(root, "DELETE data data.20261201T100000Z",
                   swap_env(shim, ".incoming.x", victim, skip=1))
    assert "no copy" in r.stdout, (r.stdout, r.stderr)
    assert os.path.islink(vol / ".incoming.x"), r.stderr        # the swap happened
    assert (victim / "inner").is_dir(), r.stderr
    assert run("btrfs", "subvolume", "show", victim / "inner", check=False).returncode == 0
    assert not os.path.lexists(vol / ".deleting.y"), r.stderr
    # The next session removes the symlink itself, and only that.
    serve_once(root, "DELETE data data.20261201T100000Z")
    assert not os.path.lexists(vol / ".incoming.x")
    assert (victim / "inner").is_dir()


def test_rescue_reads_no_info_json_but_a_small_regular_file(distro, tmp_path):
    """Rescue looks beside every subvolume named "snapshot" on the filesystem, users'
    too: a FIFO as its NAME/info.json never blocks the scan, and a symlink there (to a
    file outside, which holds a valid info.json of a volume) is not followed."""
    m, fstab, take = distro
    fstab("subvol=@")
    take("2026-11-27T10:00:00Z", "A")
    user = m / "@home/user/x"
    for name in ("root.20261127T110000Z", "root.20261127T120000Z"):
        (user / name).mkdir(parents=True)
        run("btrfs", "subvolume", "snapshot", "-r", m / "@", user / name / "snapshot")
    os.mkfifo(user / "root.20261127T110000Z/info.json")
    outside = tmp_path / "secret.json"
    info = json.loads((m / "@snapshots/root.20261127T100000Z/info.json").read_text())
    info.update(name="root.20261127T120000Z", volume="root", created="2026-11-27T12:00:00Z")
    outside.write_text(json.dumps(info))
    os.symlink(outside, user / "root.20261127T120000Z/info.json")
    r = run(BINARY, "--fs", m, "config-check", check=False, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "home/user/x" not in r.stdout and f"snapshot_dir = {m}/@snapshots\n" in r.stdout
    r = rescue(m, "list", "--json", "root")
    names = [s["name"] for s in json.loads(r.stdout)["volumes"][0]["snapshots"]]
    assert names == ["root.20261127T100000Z"], names


def test_the_listing_never_looks_through_an_entry_swapped_for_a_symlink(env, tmp_path):
    """An entry whose subvolume is gone but whose info.json is valid: incomplete. Its
    NAME swapped for a symlink after the listing's readdir (at its look at
    NAME/snapshot) to a directory whose "snapshot" is something else: the listing
    does not look there (it made the entry damaged, which is kept for ever, or stale)."""
    shim = swap_shim(tmp_path)
    env.ok("snapshot", "data", "--now", T0)
    name = env.names()[0]
    run("btrfs", "subvolume", "delete", env.snapdir / name / "snapshot")
    elsewhere = env.fs.mnt / "elsewhere"
    (elsewhere / "snapshot").mkdir(parents=True)
    (elsewhere / "snapshot" / "file").write_text("not ours\n")
    r = env.run("list", "--json", env=swap_env(shim, f"{name}/snapshot", elsewhere, name=name))
    assert r.returncode == 0, r.stderr
    assert os.path.islink(env.snapdir / name)          # the swap happened
    s = {s["name"]: s for s in json.loads(r.stdout)["volumes"][0]["snapshots"]}[name]
    assert not s["complete"] and not s.get("damaged") and not s.get("stale"), s


def test_a_store_lists_the_directory_serve_checked(env, tmp_path):
    """serve opens a volume's directory beneath its root (no symlink) and then lists
    it: swapped for a symlink to another directory when the listing opened it again
    by its path, LIST showed that directory's copies. It lists the one it checked."""
    shim = swap_shim(tmp_path)
    env.ok("snapshot", "data", "--now", T0)
    name = env.names()[0]
    snap = env.snapdir / name / "snapshot"
    root = env.fs.mnt / "backup"
    root.mkdir()
    s = Serve(root)
    try:
        assert s.receive(name, subvol_uuid(snap), send_stream(snap)).startswith("OK ")
    finally:
        s.close()
    decoy = env.fs.mnt / "decoy"
    decoy.mkdir()
    r = serve_once(root, "LIST data", swap_env(shim, str(root / "data"), decoy))
    reply = r.stdout.splitlines()[1]
    assert reply.startswith("OK "), (r.stdout, r.stderr)
    assert [c["name"] for c in json.loads(reply[3:])["snapshots"]] == [name]
