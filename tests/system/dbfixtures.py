"""Real database servers and filesystems for test_hooks.py.

Each server runs from a data directory the test chooses (inside the
snapshotted subvolume, or inside a writable clone of a snapshot) with a
socket directory of its own, as the Debian packages' service user. Nothing
here installs anything: a missing program makes the test skip.

Every class has close() (idempotent, safe after a failed start) and the tests
call it from a fixture's finally, so a failing test leaves no server, mount
or loop device behind.
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import run

PG_BIN = Path(os.environ.get("SNAPROTATE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def require(*programs, package):
    """Skips the test, naming the Debian package, if a program is missing."""
    missing = [p for p in programs
               if not (os.access(p, os.X_OK) if os.path.isabs(str(p)) else shutil.which(p))]
    if missing:
        pytest.skip(f"{', '.join(map(str, missing))} not found (Debian package {package})")


def require_user(name, package):
    import pwd
    try:
        pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"no user '{name}' (Debian package {package})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chown(path, user):
    shutil.chown(path, user, user)


def as_user(user, *argv, check=True, **kw):
    # cwd=/: the service user cannot enter the tests' directories.
    return run("runuser", "-u", user, "--", *argv, check=check, cwd="/", **kw)


def tail(path, n=20):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def proc_state(pid):
    """The state letter of a process, or None when it is gone (zombies count as gone)."""
    try:
        s = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state = s.rsplit(")", 1)[1].split()[0]
    return None if state in ("Z", "X") else state


def alive(pid):
    return proc_state(pid) is not None


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_process(p: subprocess.Popen, timeout=10):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Timer:
    """Wall time of each step of a test, printed at its end (pytest -s)."""

    def __init__(self, name):
        self.name = name
        self.start = time.monotonic()
        self.marks = []

    def mark(self, what):
        self.marks.append((what, time.monotonic() - self.start))

    def report(self):
        steps = ", ".join(f"{w} {t:.1f}s" for w, t in self.marks)
        print(f"\n[timing] {self.name}: total {time.monotonic() - self.start:.1f}s ({steps})")


class Ext4:
    """A small ext4 on a loop device, mounted at .mnt; thawed before unmounting."""

    def __init__(self, base: Path, size=64 << 20):
        self.base = base
        self.img = base / "ext4.img"
        self.mnt = base / "ext4"
        self.loop = None
        self.mounted = False
        self.img.touch()
        os.truncate(self.img, size)
        run("mkfs.ext4", "-q", "-F", self.img)
        self.mnt.mkdir()
        self.loop = run("losetup", "--find", "--show", self.img).stdout.strip()
        run("mount", self.loop, self.mnt)
        self.mounted = True

    def close(self):
        if self.mounted:
            # A frozen filesystem cannot be unmounted: thaw first ("not frozen" is fine).
            run("fsfreeze", "-u", self.mnt, check=False)
            run("umount", self.mnt)
            self.mounted = False
        if self.loop:
            run("losetup", "-d", self.loop)
            self.loop = None


class Postgres:
    """A PostgreSQL 15 server on DATADIR, listening on a socket in RUNDIR only."""

    def __init__(self, datadir: Path, rundir: Path, port=None):
        self.datadir = Path(datadir)
        self.rundir = Path(rundir)
        self.port = port or free_port()
        self.log = self.rundir / "postgres.log"
        self.proc = None
        self.rundir.mkdir(mode=0o755, exist_ok=True)
        chown(self.rundir, "postgres")

    @staticmethod
    def available():
        require(PG_BIN / "initdb", PG_BIN / "pg_ctl", PG_BIN / "psql", PG_BIN / "pg_isready",
                package="postgresql-15")
        require(PG_BIN / "pgbench", package="postgresql-15")
        require_user("postgres", "postgresql-common")
        require("runuser", package="util-linux")

    def initdb(self):
        self.datadir.mkdir(mode=0o700)
        chown(self.datadir, "postgres")
        as_user("postgres", PG_BIN / "initdb", "-D", self.datadir, "-A", "trust", "-U",
                "postgres", "-N", "-E", "UTF8", "--locale=C")
        with open(self.datadir / "postgresql.conf", "a") as f:
            # Small: the WAL and the buffers fit a test filesystem many times.
            f.write("shared_buffers = 32MB\nmax_wal_size = 96MB\nmin_wal_size = 32MB\n"
                    "checkpoint_timeout = 30min\n")

    def start(self, timeout=60):
        """Starts the server and polls pg_isready until it accepts connections
        (after a crash recovery on a clone, too)."""
        log = open(self.log, "a")
        self.proc = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D", str(self.datadir),
             "-c", f"port={self.port}", "-c", f"unix_socket_directories={self.rundir}",
             "-c", "listen_addresses="],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/")
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            r = run(PG_BIN / "pg_isready", "-q", "-h", self.rundir, "-p", self.port,
                    check=False)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"PostgreSQL on {self.datadir} did not start:\n{tail(self.log)}")

    def psql(self, sql, db="postgres"):
        r = as_user("postgres", PG_BIN / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                    "-h", self.rundir, "-p", self.port, "-d", db, "-c", sql, check=False)
        assert r.returncode == 0, f"psql {sql!r}: {r.stderr}"
        return r.stdout.strip()

    def client_argv(self, program, *args):
        return ["runuser", "-u", "postgres", "--", str(PG_BIN / program), "-h", str(self.rundir),
                "-p", str(self.port), *map(str, args)]

    def close(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            as_user("postgres", PG_BIN / "pg_ctl", "-D", self.datadir, "-m", "immediate",
                    "-t", "30", "stop", check=False)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                # runuser and the postmaster: kill both.
                pid = self.postmaster_pid()
                if pid:
                    kill_quietly(pid)
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def postmaster_pid(self):
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


class MariaDB:
    """A MariaDB server on DATADIR, with a socket in RUNDIR and no TCP."""

    def __init__(self, datadir: Path, rundir: Path):
        self.datadir = Path(datadir)
        self.rundir = Path(rundir)
        self.socket = self.rundir / "mysqld.sock"
        self.log = self.rundir / "error.log"
        self.proc = None
        self.rundir.mkdir(mode=0o755, exist_ok=True)
        chown(self.rundir, "mysql")

    @staticmethod
    def available():
        require("mariadbd", "mariadb-install-db", package="mariadb-server")
        require("mariadb", "mariadb-admin", package="mariadb-client")
        require_user("mysql", "mariadb-server")

    def install(self):
        self.datadir.mkdir(mode=0o700)
        chown(self.datadir, "mysql")
        r = run("mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal", "--skip-test-db",
                "--innodb-log-file-size=16M", check=False, cwd="/")
        assert r.returncode == 0, f"mariadb-install-db: {r.stdout}\n{r.stderr}"

    def start(self, timeout=60):
        log = open(self.rundir / "mariadbd.out", "w")
        self.proc = subprocess.Popen(
            [shutil.which("mariadbd"), "--no-defaults", "--user=mysql",
             f"--datadir={self.datadir}", f"--socket={self.socket}",
             f"--pid-file={self.rundir / 'mysqld.pid'}", f"--log-error={self.log}",
             "--skip-networking", "--innodb-buffer-pool-size=32M",
             "--innodb-log-file-size=16M"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/")
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.query("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"MariaDB on {self.datadir} did not start:\n{tail(self.log)}")

    def client_argv(self, *args):
        return ["mariadb", "--no-defaults", f"--socket={self.socket}", "--user=root", "--batch",
                "--skip-column-names", *args]

    def query(self, sql, check=True):
        r = run(*self.client_argv("-e", sql), check=False)
        if check:
            assert r.returncode == 0, f"mariadb {sql!r}: {r.stderr}"
        return r

    def sql(self, sql):
        return self.query(sql).stdout.strip()

    def close(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                run("mariadb-admin", "--no-defaults", f"--socket={self.socket}", "--user=root",
                    "shutdown", check=False, timeout=60)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Writer(threading.Thread):
    """Inserts rows 1, 2, 3, ... into t.inno (a trigger copies each into the
    MyISAM t.myi in the same statement) through one client session, and
    counts each row once the server has answered for it."""

    def __init__(self, db: MariaDB):
        super().__init__(daemon=True)
        self.db = db
        self.last = 0       # the highest id the server has confirmed
        self.error = None
        self.stopping = False
        self.proc = subprocess.Popen(db.client_argv("--unbuffered", "t"), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     bufsize=1)

    def run(self):
        i = 0
        try:
            while not self.stopping:
                i += 1
                self.proc.stdin.write(
                    f"INSERT INTO inno VALUES ({i}, REPEAT('x', 200)); SELECT {i};\n")
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
                if line.strip() != str(i):
                    self.error = f"writer: got {line!r} for row {i}: {self.proc.stderr.read()}"
                    return
                self.last = i
        except (OSError, ValueError) as e:
            if not self.stopping:
                self.error = f"writer: {e}"

    def close(self):
        self.stopping = True
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        stop_process(self.proc)
        self.join(10)
