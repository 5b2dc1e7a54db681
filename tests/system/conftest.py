"""Fixtures for system tests: the real binary on real loop-device btrfs.

Every fixture owns what it creates and tears it down in a finalizer, so a
failing test leaves no mount or loop device behind.
"""
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("SNAPROTATE", ROOT / "snaprotate"))
# scripts/deps.sh takes promtool out of Debian's prometheus package, not installed
PROMTOOL = shutil.which("promtool") or "/var/tmp/snaprotate-tools/promtool"


def run(*argv, check=True, **kw):
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True,
                          text=True, **kw)


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="system tests need root (loop devices, btrfs)")
        for item in items:
            item.add_marker(skip)


class Btrfs:
    """A fresh btrfs on a loop device, mounted at .mnt."""

    def __init__(self, base: Path, size="1G"):
        self.base = base
        self.img = base / "fs.img"
        self.mnt = base / "mnt"
        self.loop = None
        self.mounted = False
        self.img.touch()
        os.truncate(self.img, _size(size))
        run("mkfs.btrfs", "-q", "-f", self.img)
        self.mnt.mkdir()
        self.loop = run("losetup", "--find", "--show", self.img).stdout.strip()
        run("mount", self.loop, self.mnt)
        self.mounted = True

    def subvolume(self, name):
        path = self.mnt / name
        run("btrfs", "subvolume", "create", path)
        return path

    def close(self):
        if self.mounted:
            # Fails loudly rather than leaving a lazy mount behind.
            run("umount", self.mnt)
            self.mounted = False
        if self.loop:
            run("losetup", "-d", self.loop)
            self.loop = None


def _size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s)


@pytest.fixture
def btrfs(tmp_path):
    fs = Btrfs(tmp_path)
    try:
        yield fs
    finally:
        fs.close()


class Env:
    """A btrfs with one volume 'data' and a config for it."""

    def __init__(self, fs: Btrfs, base: Path):
        self.fs = fs
        self.base = base
        self.data = fs.subvolume("data")
        self.snapdir = fs.mnt / "snaps"
        self.lockdir = base / "lock"
        self.conf = base / "rotate.conf"
        self.write_config()

    def write_config(self, extra_volume="", extra=""):
        self.conf.write_text(
            f"[global]\nlock_dir = {self.lockdir}\nstate_dir = {self.base / 'state'}\n\n"
            f"[volume data]\nbackend = btrfs\npath = {self.data}\n"
            f"snapshot_dir = {self.snapdir}\n{extra_volume}\n{extra}")
        os.chmod(self.conf, 0o600)

    def run(self, *args, check=False, env=None, **kw):
        e = dict(os.environ)
        e.pop("SNAPROTATE_NOW", None)
        if env:
            e.update(env)
        return run(BINARY, "-c", self.conf, *args, check=check, env=e, **kw)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, f"exit {r.returncode}\nstdout:{r.stdout}\nstderr:{r.stderr}"
        return r

    def list(self, *args):
        doc = json.loads(self.ok("list", "--json", *args).stdout)
        assert doc["format"] == 1
        return doc

    def snaps(self, volume="data"):
        for v in self.list(volume)["volumes"]:
            if v["volume"] == volume:
                return v["snapshots"]
        raise KeyError(volume)

    def names(self, volume="data"):
        return [s["name"] for s in self.snaps(volume)]

    def tree(self):
        """Everything under the snapshot dir, for 'nothing changed' checks."""
        if not self.snapdir.exists():
            return None
        out = []
        for dirpath, dirnames, filenames in os.walk(self.snapdir):
            for n in sorted(dirnames + filenames):
                p = Path(dirpath) / n
                st = p.lstat()
                out.append((str(p), st.st_ino, st.st_mtime_ns, st.st_size))
        return sorted(out)


@pytest.fixture
def env(btrfs, tmp_path):
    return Env(btrfs, tmp_path)


@pytest.fixture
def vol(env, btrfs):
    """'data' with its snapshots in a nested .snapshots and a nested docker subvolume."""
    env.conf.write_text(env.conf.read_text().replace(f"snapshot_dir = {env.snapdir}\n", ""))
    (env.data / "var/lib").mkdir(parents=True)
    run("btrfs", "subvolume", "create", env.data / "var/lib/docker")
    (env.data / "var/lib/docker/image").write_text("a container image\n")
    env.snapdir = env.data / ".snapshots"
    return env


def wait_until(pred, timeout=20.0, what="condition"):
    """Polls an observable condition (never a fixed sleep standing in for one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# --- serve, driven by hand ------------------------------------------------------

class Serve:
    """A serve session driven by hand, as a client (or a hostile one) would."""

    def __init__(self, root):
        self.p = subprocess.Popen([str(BINARY), "serve", "--root", str(root)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        assert self.p.stdout.readline() == b"SNAPROTATE 1\n"

    def ask(self, line, data=None):
        self.p.stdin.write(line.encode() + b"\n")
        if data is not None:
            for i in range(0, len(data), 1000):      # chunks that split commands
                piece = data[i:i + 1000]
                self.p.stdin.write(f"DATA {len(piece)}\n".encode() + piece)
            self.p.stdin.write(b"DATA 0\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().decode()

    def receive(self, name, uuid, stream, volume="data"):
        return self.ask(f"RECEIVE {volume} {name} {info(name, uuid, volume)}", data=stream)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=60)
        self.p.stdout.close()
        self.p.stderr.close()


def info(name, uuid, volume="data"):
    m = re.fullmatch(r"[^.]+\.(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z", name)
    created = "{}-{}-{}T{}:{}:{}Z".format(*m.groups())
    return json.dumps({"format": 1, "volume": volume, "name": name, "created": created,
                       "kind": "timeline", "description": "", "pinned": False,
                       "uuid": uuid}, separators=(",", ":"))


def send_stream(*argv):
    return subprocess.run(["btrfs", "send", "-q", *map(str, argv)], check=True,
                          capture_output=True).stdout


def subvol_uuid(path, field="UUID"):
    for line in run("btrfs", "subvolume", "show", path).stdout.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == field:
            return v.strip()
    raise KeyError(field)
