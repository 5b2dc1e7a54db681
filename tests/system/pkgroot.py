"""A throwaway root in which the real apt, pacman and dnf run with snaprotate's hooks
(shared/notes/package-managers.md): an overlay whose lower layer is the host's / and
whose upper layer is a tmpfs, so that packages, package databases and configuration
written there vanish with it; the host's own configuration is never touched.

Every mount lives in a private mount namespace held by one sleeping process, made with
unshare and entered with nsenter. Killing that process takes every mount with it, and
the loop device of the test volume (mounted with -o loop, so autoclear) goes when its
mount does: a test that fails or is killed leaves only its directory, which close()
removes.

A package manager runs as PID 1 of its own PID namespace, chrooted into the root with a
fresh /proc, so that / is PID 1's root in its hooks (what detection calls the running
system); plain `chroot` runs the same hooks as a chroot.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import BINARY, ROOT, run, wait_until

T0 = 1796112000     # 2026-12-01T10:00:00Z: the tests' transactions start here


def at(t):
    """The environment that makes snaprotate, run by a package manager's hook, act at @t."""
    return "SNAPROTATE_NOW=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
       "DEBIAN_FRONTEND=noninteractive"]


def _loops_backed_by(where):
    out = []
    for d in Path("/sys/block").glob("loop*"):
        try:
            backing = (d / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        if backing.startswith(str(where)):
            out.append(d.name)
    return out


class PkgRoot:
    def __init__(self, config_extra=""):
        self.w = Path(tempfile.mkdtemp(prefix="pkgtest.", dir="/var/tmp"))
        self.r = self.w / "root"
        self.files = self.w / "files"       # bound into the root: the test writes here
        self.holder = None
        try:
            self._start(config_extra)
        except BaseException:
            self.close()
            raise

    def _start(self, config_extra):
        self.holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                        "sleep", "infinity"])
        mine = os.readlink("/proc/self/ns/mnt")
        wait_until(lambda: os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != mine,
                   what="the private mount namespace")
        for d in ("etc/snaprotate", "etc/test-apt/apt.conf.d", "etc/test-apt/sources.list.d",
                  "repo"):
            (self.files / d).mkdir(parents=True, exist_ok=True)
        w, r = self.w, self.r
        self.ns(f"""
            mkdir {w}/ovl {r}
            mount -t tmpfs tmpfs {w}/ovl
            mkdir {w}/ovl/up {w}/ovl/wd
            mount -t overlay overlay -o lowerdir=/,upperdir={w}/ovl/up,workdir={w}/ovl/wd {r}
            mount --rbind /dev {r}/dev
            mount --rbind /sys {r}/sys
            mount -t tmpfs tmpfs {r}/run
            mount -t tmpfs -o mode=1777 tmpfs {r}/tmp
            rm -rf {r}/etc/snaprotate {r}/var/lib/snaprotate {r}/etc/apt/apt.conf.d/80snaprotate
            mkdir -p {r}/etc/snaprotate {r}/etc/test-apt {r}/srv/repo {r}/srv/vol
            mount --bind {self.files}/etc/snaprotate {r}/etc/snaprotate
            mount --bind {self.files}/etc/test-apt {r}/etc/test-apt
            mount --bind {self.files}/repo {r}/srv/repo
            install -m 755 {BINARY} {r}/usr/sbin/snaprotate
            truncate -s 512M {w}/vol.img
            mkfs.btrfs -q -f {w}/vol.img
            mount -o loop {w}/vol.img {r}/srv/vol
            btrfs subvolume create {r}/srv/vol/data >/dev/null
            btrfs subvolume create {r}/srv/vol/snaps >/dev/null
        """)
        self.write_config(config_extra)

    def write_config(self, extra=""):
        conf = self.files / "etc/snaprotate/rotate.conf"
        conf.write_text("[volume data]\nbackend = btrfs\npath = /srv/vol/data\n"
                        f"snapshot_dir = /srv/vol/snaps\npkg_snapshots = yes\n{extra}")
        os.chmod(conf, 0o600)

    def ns(self, script, check=True):
        """A shell script in the holder's mount namespace (on the host's root)."""
        return run("nsenter", "-t", self.holder.pid, "-m", "--", "sh", "-euc", script,
                   check=check)

    def put(self, path, text, mode=0o644):
        """Writes @text to @path inside the root (through the overlay)."""
        dst = f"{self.r}/{str(path).lstrip('/')}"
        run("nsenter", "-t", self.holder.pid, "-m", "--", "sh", "-euc",
            f'mkdir -p "$(dirname "{dst}")"; cat > "{dst}"; chmod {mode:o} "{dst}"', input=text)

    def inroot(self, *argv, env=(), check=False, input=None, timeout=300):
        """@argv as PID 1 of a new PID namespace, chrooted into the root."""
        return run("nsenter", "-t", self.holder.pid, "-m", "--", "unshare", "--pid", "--fork",
                   "--kill-child", "--mount", f"--root={self.r}", "--mount-proc",
                   *ENV, *env, *argv, check=check, input=input, timeout=timeout)

    def chrooted(self, *argv, env=(), check=False, input=None):
        """@argv by a plain chroot: not PID 1's root, as in an installer."""
        return run("nsenter", "-t", self.holder.pid, "-m", "--", "chroot", self.r, *ENV, *env,
                   *argv, check=check, input=input)

    def snapshots(self):
        r = self.inroot("snaprotate", "list", "--json", check=True)
        return json.loads(r.stdout)["volumes"][0]["snapshots"]

    def snapshots_dir_empty(self):
        """Nothing in the volume's snapshot directory (read without snaprotate)."""
        r = self.ns(f"ls -A {self.r}/srv/vol/snaps")
        return r.stdout.strip() == ""

    def pairs(self):
        """(pre, post) of every pair, and the snapshots that are neither."""
        snaps = self.snapshots()
        pres = {s["name"]: s for s in snaps if s["kind"] == "pre"}
        posts = [s for s in snaps if s["kind"] == "post"]
        pairs = [(pres[p["pre"]], p) for p in posts if p["pre"] in pres]
        others = [s for s in snaps if s["kind"] not in ("pre", "post")]
        return pairs, [s for s in pres.values() if not any(s is a for a, _ in pairs)], others

    def unmount_volume(self):
        self.ns(f"umount {self.r}/srv/vol")

    def mount_volume(self):
        self.ns(f"mount -o loop {self.w}/vol.img {self.r}/srv/vol")

    def close(self):
        if self.holder and self.holder.poll() is None:
            # Whatever still runs chrooted in the root goes first, then the namespace.
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        if os.readlink(f"/proc/{pid}/root").startswith(str(self.r)):
                            os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
            self.holder.kill()
            self.holder.wait()
        wait_until(lambda: not _loops_backed_by(self.w), timeout=30,
                   what="the test volume's loop device to go")
        shutil.rmtree(self.w, ignore_errors=True)


def hook_text(name):
    """A hook file as `make install` writes it (the binary in /usr/sbin)."""
    return (ROOT / "hooks" / name).read_text()
