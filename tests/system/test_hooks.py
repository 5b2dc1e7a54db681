"""Pre and post hooks (SPEC 7) and the consistency hooks of hooks/consistency/.

The database tests run real servers from the Debian packages (postgresql-15,
mariadb-server) on data directories inside the snapshotted subvolume, take
snapshots through `snaprotate snapshot` while a client writes, and start a
second server on a writable clone of each snapshot: what it finds there is
what a restore would find. They install nothing and skip when a program is
missing. The hook contract tests need no database.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from conftest import BINARY, ROOT, Btrfs, Env, run, wait_until
from dbfixtures import (Ext4, MariaDB, Postgres, Timer, Writer, alive, kill_quietly,
                        proc_state, require, stop_process, tail)

CONSISTENCY = ROOT / "hooks" / "consistency"


# --- helpers ------------------------------------------------------------------------------

def install(path: Path, text=None, src=None, mode=0o755):
    """A hook as snaprotate accepts it: root-owned, mode 0755 (unless told)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if src is not None:
        shutil.copyfile(src, path)
    else:
        path.write_text(text)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


def sh_hook(path: Path, body, mode=0o755):
    return install(path, "#!/bin/sh\nset -eu\n" + textwrap.dedent(body), mode=mode)


def recorder(path: Path, out: Path):
    """A hook that writes its argv[1] and SNAPROTATE_* variables to OUT/NAME.PHASE."""
    return sh_hook(path, f"""\
        {{ echo "ARGV1=$1"; env | grep '^SNAPROTATE_' | sort; }} > '{out}/{path.name}.'"$1"
        """)


def recorded(out: Path, name, phase):
    p = out / f"{name}.{phase}"
    if not p.exists():
        return None
    return dict(line.split("=", 1) for line in p.read_text().splitlines())


def configure(env: Env, pre=(), post=(), hook_timeout=None):
    """Rewrites env's config with these hooks on volume 'data'."""
    g = f"hook_timeout = {hook_timeout}\n" if hook_timeout else ""
    v = ""
    if pre:
        v += "pre_hook = " + " ".join(map(str, pre)) + "\n"
    if post:
        v += "post_hook = " + " ".join(map(str, post)) + "\n"
    env.conf.write_text(
        f"[global]\nlock_dir = {env.lockdir}\nstate_dir = {env.base / 'state'}\n{g}\n"
        f"[volume data]\nbackend = btrfs\npath = {env.data}\nsnapshot_dir = {env.snapdir}\n{v}")
    os.chmod(env.conf, 0o600)


def no_snapshots(env: Env):
    assert env.snaps() == []
    assert not env.snapdir.exists() or list(env.snapdir.iterdir()) == []


def clone(env: Env, name, as_name):
    """A writable snapshot of snapshot NAME: where a restore would start."""
    dst = env.fs.mnt / as_name
    run("btrfs", "subvolume", "snapshot", env.snapdir / name / "snapshot", dst)
    return dst


def drop_clone(path: Path):
    run("btrfs", "subvolume", "delete", path)


@pytest.fixture
def dbenv():
    """Env on a 4 GiB btrfs under a directory the service users (postgres,
    mysql) can traverse: pytest's own tmp_path is not, and they need the
    path to their data directory."""
    base = Path(tempfile.mkdtemp(prefix="snaprotate-hooks-"))
    os.chmod(base, 0o711)
    fs = None
    try:
        fs = Btrfs(base, size="4G")
        yield Env(fs, base)
    finally:
        try:
            if fs is not None:
                fs.close()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def ext4(tmp_path):
    fs = Ext4(tmp_path)
    try:
        yield fs
    finally:
        fs.close()


# --- PostgreSQL ---------------------------------------------------------------------------

PG_SUMS = """SELECT (SELECT sum(abalance) FROM pgbench_accounts),
                    (SELECT sum(bbalance) FROM pgbench_branches),
                    (SELECT sum(tbalance) FROM pgbench_tellers),
                    (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
                    (SELECT count(*) FROM pgbench_history)"""


def test_postgresql_snapshots_recover_consistent(dbenv):
    """pgbench writes all the time; each snapshot, started as a server of its
    own, recovers and holds the TPC-B invariant: the balances of accounts,
    branches and tellers and the deltas of the history all sum to the same."""
    Postgres.available()
    timer = Timer("postgresql")
    hook = install(dbenv.base / "hooks" / "postgresql", src=CONSISTENCY / "postgresql")
    configure(dbenv, pre=[hook], post=[hook])
    servers, bench = [], None
    try:
        pg = Postgres(dbenv.data / "pgdata", dbenv.base / "pg-run")
        servers.append(pg)
        pg.initdb()
        pg.start()
        timer.mark("initdb+start")
        run(*pg.client_argv("pgbench", "-i", "-q", "-s", "2", "postgres"), cwd="/")
        timer.mark("pgbench -i")
        bench_log = open(dbenv.base / "pgbench.log", "w")
        bench = subprocess.Popen(pg.client_argv("pgbench", "-n", "-c", "2", "-j", "2",
                                                "-T", "3600", "postgres"),
                                 stdin=subprocess.DEVNULL, stdout=bench_log,
                                 stderr=subprocess.STDOUT, cwd="/")
        bench_log.close()

        def history():
            return int(pg.psql("SELECT count(*) FROM pgbench_history"))

        wait_until(lambda: history() > 100, 60, "pgbench to commit transactions")
        hook_env = {"SNAPROTATE_PG_HOST": str(pg.rundir), "SNAPROTATE_PG_PORT": str(pg.port)}
        names = []
        for _ in range(3):
            checkpoint = pg.psql("SELECT checkpoint_lsn FROM pg_control_checkpoint()")
            r = dbenv.ok("snapshot", "data", env=hook_env)
            names.append(r.stdout.strip())
            # The hook's CHECKPOINT reached this server (none is due on its own:
            # checkpoint_timeout is 30 min, max_wal_size far off).
            assert pg.psql("SELECT checkpoint_lsn FROM pg_control_checkpoint()") != checkpoint
            n = history()
            wait_until(lambda: history() > n + 50, 60, "pgbench to go on")
        timer.mark("3 snapshots")
        assert bench.poll() is None, tail(dbenv.base / "pgbench.log")
        assert [s["name"] for s in dbenv.snaps()] == names

        for k, name in enumerate(names):
            c = clone(dbenv, name, f"clone{k}")
            # What a crashed server leaves: recovery starts from the checkpoint.
            (c / "pgdata" / "postmaster.pid").unlink()
            restored = Postgres(c / "pgdata", dbenv.base / f"pg-clone{k}")
            servers.append(restored)
            restored.start()
            accounts, branches, tellers, deltas, rows = \
                map(int, restored.psql(PG_SUMS).split("|"))
            assert accounts == branches == tellers == deltas, (name, accounts, branches,
                                                                tellers, deltas)
            assert rows > 100, "the snapshot holds pgbench's work"
            restored.close()
            servers.remove(restored)
            drop_clone(c)
        timer.mark("3 clones checked")
    finally:
        if bench is not None:
            stop_process(bench)
        for s in reversed(servers):
            s.close()
    timer.report()


# --- MariaDB ------------------------------------------------------------------------------

MARIADB_SCHEMA = """
CREATE DATABASE t;
CREATE TABLE t.inno (id INT PRIMARY KEY, payload VARCHAR(255)) ENGINE=InnoDB;
CREATE TABLE t.myi (id INT PRIMARY KEY, payload VARCHAR(255)) ENGINE=MyISAM;
CREATE TABLE t.markers (snap INT PRIMARY KEY, last_id INT) ENGINE=InnoDB;
-- Every row goes into both tables in one statement: FLUSH TABLES WITH READ
-- LOCK waits for a running statement (and its commit), not for a sequence of
-- them, so only one statement per step can make both tables agree.
CREATE TRIGGER t.copy AFTER INSERT ON t.inno FOR EACH ROW
    INSERT INTO t.myi VALUES (NEW.id, NEW.payload);
"""


def check_table(db: MariaDB, table):
    rows = [line.split("\t") for line in db.sql(f"CHECK TABLE {table}").splitlines()]
    # One row, Msg_type 'status', Msg_text 'OK': no warning (such as a MyISAM
    # table that was not closed properly), no error.
    assert rows == [[table, "check", "status", "OK"]], rows


@pytest.fixture
def mariadb(dbenv):
    MariaDB.available()
    db = MariaDB(dbenv.data / "mysql", dbenv.base / "my-run")
    try:
        db.install()
        db.start()
        db.sql(MARIADB_SCHEMA)
        yield db
    finally:
        db.close()


def test_mysql_snapshots_consistent(dbenv, mariadb):
    """A writer fills an InnoDB and a MyISAM table; each snapshot, started as a
    server of its own, has both tables intact and agreeing, and every row
    confirmed before its marker."""
    timer = Timer("mariadb")
    state = dbenv.base / "hook-state"
    hook = install(dbenv.base / "hooks" / "mysql", src=CONSISTENCY / "mysql")
    configure(dbenv, pre=[hook], post=[hook])
    hook_env = {"SNAPROTATE_MYSQL_SOCKET": str(mariadb.socket),
                "SNAPROTATE_MYSQL_STATE_DIR": str(state)}
    writer = Writer(mariadb)
    restored = None
    try:
        writer.start()
        wait_until(lambda: writer.last >= 200 or writer.error, 60, "the writer to start")
        assert writer.error is None, writer.error
        snaps = []
        for k in range(1, 4):
            last = writer.last
            mariadb.sql(f"INSERT INTO t.markers VALUES ({k}, {last})")
            r = dbenv.ok("snapshot", "data", env=hook_env)
            snaps.append((r.stdout.strip(), k, last))
            # The post hook ended the session: no state, the writer goes on.
            assert not (state / "mysql.data").exists()
            now = writer.last
            wait_until(lambda: writer.last > now + 50 or writer.error, 60,
                       "the writer to go on after the snapshot")
            assert writer.error is None, writer.error
        timer.mark("3 snapshots")

        for name, k, last in snaps:
            c = clone(dbenv, name, f"clone{k}")
            restored = MariaDB(c / "mysql", dbenv.base / f"my-clone{k}")
            restored.start()
            check_table(restored, "t.inno")
            check_table(restored, "t.myi")
            counts = {}
            for table in ("t.inno", "t.myi"):
                n, top = map(int, restored.sql(
                    f"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM {table}").split())
                assert n == top, f"{table}: rows 1..{top} with gaps ({n} rows)"
                counts[table] = n
            assert counts["t.inno"] == counts["t.myi"], counts
            assert restored.sql(f"SELECT last_id FROM t.markers WHERE snap = {k}") == str(last)
            assert counts["t.inno"] >= last, "a row confirmed before the marker is missing"
            restored.close()
            restored = None
            drop_clone(c)
        timer.mark("3 clones checked")
    finally:
        writer.close()
        if restored is not None:
            restored.close()
    timer.report()


def test_mysql_lock_ends_by_itself(dbenv, mariadb, tmp_path):
    """Without a post hook the session lets go after SNAPROTATE_MYSQL_LOCK_TIMEOUT;
    a late post hook then says the snapshot may not be consistent."""
    timer = Timer("mariadb lock timeout")
    state = tmp_path / "hook-state"
    hook = install(tmp_path / "hooks" / "mysql", src=CONSISTENCY / "mysql")
    mariadb.sql("CREATE TABLE t.x (id INT PRIMARY KEY) ENGINE=InnoDB")
    hook_env = dict(os.environ, SNAPROTATE_VOLUME="data", SNAPROTATE_MYSQL_SOCKET=str(mariadb.socket),
                    SNAPROTATE_MYSQL_STATE_DIR=str(state), SNAPROTATE_MYSQL_LOCK_TIMEOUT="3")
    blocked = None
    try:
        # capture_output: returns only because the session it leaves behind
        # holds none of the hook's output.
        r = run(hook, "pre", env=dict(hook_env, SNAPROTATE_PHASE="pre"), check=False, timeout=60)
        assert r.returncode == 0, r.stderr
        client = int((state / "mysql.data" / "client").read_text().split()[0])
        holder = int((state / "mysql.data" / "holder").read_text().split()[0])
        assert alive(client) and alive(holder)
        # Held: a write waits for it (and gives up after lock_wait_timeout).
        r = mariadb.query("SET SESSION lock_wait_timeout = 1; INSERT INTO t.x VALUES (1)",
                          check=False)
        assert r.returncode != 0 and "Lock wait timeout" in r.stderr, r.stderr
        blocked = subprocess.Popen(mariadb.client_argv("-e", "INSERT INTO t.x VALUES (2)"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = blocked.communicate(timeout=60)
        assert blocked.returncode == 0, err
        wait_until(lambda: not alive(client) and not alive(holder), 30, "the session to end")
        timer.mark("lock released by timeout")
        r = run(hook, "post", env=dict(hook_env, SNAPROTATE_PHASE="post",
                                       SNAPROTATE_RESULT="success"), check=False, timeout=60)
        assert r.returncode == 1
        assert "had ended before the post hook" in r.stderr, r.stderr
        assert not (state / "mysql.data").exists()
        assert mariadb.sql("SELECT COUNT(*) FROM t.x") == "1"
    finally:
        if blocked is not None:
            stop_process(blocked)
        for f in ("client", "holder"):
            p = state / "mysql.data" / f
            if p.exists():
                kill_quietly(int(p.read_text().split()[0]))
    timer.report()


@pytest.mark.parametrize("hook", ["postgresql", "mysql"])
def test_database_hook_fails_cleanly_without_server(env, tmp_path, hook):
    """No server: the pre hook fails with the client's own words, no snapshot,
    and the post hook has nothing to undo."""
    if hook == "postgresql":
        require("psql", "runuser", package="postgresql-client-15, util-linux")
    else:
        require("mariadb", package="mariadb-client")
    h = install(tmp_path / "hooks" / hook, src=CONSISTENCY / hook)
    configure(env, pre=[h], post=[h])
    state = tmp_path / "hook-state"
    r = env.run("snapshot", "data", env={
        "SNAPROTATE_PG_HOST": str(tmp_path), "SNAPROTATE_PG_PORT": "1",
        "SNAPROTATE_MYSQL_SOCKET": str(tmp_path / "no.sock"),
        "SNAPROTATE_MYSQL_STATE_DIR": str(state)}, timeout=60)
    assert r.returncode == 1
    assert f"data: no snapshot: pre hook '{h}' failed with exit status 1" in r.stderr
    words = {"postgresql": "CHECKPOINT on", "mysql": "Can't connect"}[hook]
    assert words in r.stderr, r.stderr
    assert "post hook" not in r.stderr, r.stderr
    no_snapshots(env)
    assert not state.exists() or list(state.iterdir()) == []


# --- the hook contract (no database) ------------------------------------------------------

def test_hooks_see_their_phase_and_the_snapshot(env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    pre = recorder(tmp_path / "hooks" / "pre", out)
    post = recorder(tmp_path / "hooks" / "post", out)
    configure(env, pre=[pre], post=[post])
    r = env.ok("snapshot", "--kind", "pre", "--description", "x", "data")
    name = r.stdout.strip()
    assert env.names() == [name]
    a = recorded(out, "pre", "pre")
    assert a == {"ARGV1": "pre", "SNAPROTATE_PHASE": "pre", "SNAPROTATE_VOLUME": "data",
                 "SNAPROTATE_PATH": str(env.data), "SNAPROTATE_SNAPSHOT": name,
                 "SNAPROTATE_KIND": "pre"}
    b = recorded(out, "post", "post")
    assert b == {"ARGV1": "post", "SNAPROTATE_PHASE": "post", "SNAPROTATE_VOLUME": "data",
                 "SNAPROTATE_PATH": str(env.data), "SNAPROTATE_SNAPSHOT": name,
                 "SNAPROTATE_KIND": "pre", "SNAPROTATE_RESULT": "success"}
    assert recorded(out, "pre", "post") is None and recorded(out, "post", "pre") is None


def test_hook_timeout_zero_means_no_limit(env, tmp_path):
    """SPEC 3: a duration of 0 means none (it used to kill every hook at once)."""
    out = tmp_path / "out"
    out.mkdir()
    slow = sh_hook(tmp_path / "hooks" / "slow", f"""\
        sleep 0.5
        echo done > '{out}/slow.'"$1"
        """)
    configure(env, pre=[slow], post=[slow], hook_timeout="0")
    assert "hook_timeout = 0" in env.ok("config-check").stdout
    name = env.ok("snapshot", "data").stdout.strip()
    assert env.names() == [name]
    assert (out / "slow.pre").read_text() == "done\n"
    assert (out / "slow.post").read_text() == "done\n"


def test_hooks_get_an_environment_of_their_own(env, tmp_path):
    """Not the caller's whole environment (a package manager's, say): a fixed
    PATH, HOME and LOGNAME, the locale and zone, and SNAPROTATE_* settings."""
    out = tmp_path / "out"
    out.mkdir()
    dump = sh_hook(tmp_path / "hooks" / "dump", f"""\
        env | sort > '{out}/env.'"$1"
        """)
    configure(env, pre=[dump])
    env.ok("snapshot", "data", env={
        "PATH": "/tmp/evil:" + os.environ["PATH"], "LD_LIBRARY_PATH": "/tmp/evil",
        "LD_PRELOAD": "/tmp/evil/nothing.so", "BASH_ENV": "/tmp/evil.sh", "ENV": "/tmp/evil.sh",
        "IFS": "x", "APT_CONFIG": "/tmp/evil.conf", "DPKG_HOOK_ACTION": "install",
        "TZ": "Europe/Vienna", "LANG": "C.UTF-8", "SNAPROTATE_PG_PORT": "5433",
        "SNAPROTATE_VOLUME": "spoofed"})
    seen = dict(line.split("=", 1) for line in (out / "env.pre").read_text().splitlines())
    assert seen["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert seen["HOME"] == "/root" and seen["LOGNAME"] == "root"
    assert seen["TZ"] == "Europe/Vienna" and seen["LANG"] == "C.UTF-8"
    assert seen["SNAPROTATE_PG_PORT"] == "5433"
    assert seen["SNAPROTATE_VOLUME"] == "data"
    for leaked in ("LD_LIBRARY_PATH", "LD_PRELOAD", "BASH_ENV", "ENV", "IFS", "APT_CONFIG",
                   "DPKG_HOOK_ACTION"):
        assert leaked not in seen, leaked


def test_a_hook_reads_nothing_from_our_stdin(env, tmp_path):
    """stdin is /dev/null: a hook that reads it gets EOF at once, and what was
    piped to snaprotate (a package manager's package list, say) is not its."""
    out = tmp_path / "out"
    out.mkdir()
    reader = sh_hook(tmp_path / "hooks" / "reader", f"""\
        cat > '{out}/stdin'
        readlink /proc/self/fd/0 > '{out}/fd0' || true
        """)
    configure(env, pre=[reader])
    r = env.run("snapshot", "data", input="secret package list\n" * 1000, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (out / "stdin").read_text() == ""
    assert (out / "fd0").read_text().strip() == "/dev/null"


def test_a_hook_that_leaves_a_daemon_does_not_hold_us(env, tmp_path):
    """A hook that starts a daemon holding its stdout and stderr open and exits:
    snaprotate goes on when the hook has exited, not when the daemon closes them."""
    out = tmp_path / "out"
    out.mkdir()
    starter = sh_hook(tmp_path / "hooks" / "starter", f"""\
        setsid sleep 600 &
        echo $! > '{out}/daemon'
        echo "started the daemon" >&2
        exit 0
        """)
    configure(env, pre=[starter], hook_timeout="5s")
    start = time.monotonic()
    r = env.run("snapshot", "data", timeout=120)
    took = time.monotonic() - start
    pid = int((out / "daemon").read_text())
    try:
        assert r.returncode == 0 and r.stdout.startswith("data."), r.stderr
        assert took < 5, took         # not even the hook_timeout
        assert proc_state(pid) is not None   # the daemon is the hook's business: still there
    finally:
        kill_quietly(pid)


def test_pre_hook_gets_the_name_of_a_second_snapshot_in_one_second(env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    pre = recorder(tmp_path / "hooks" / "pre", out)
    configure(env, pre=[pre])
    env.ok("snapshot", "data", "--now", "2026-11-27T09:00:00Z")
    second = env.ok("snapshot", "data", "--now", "2026-11-27T09:00:00Z").stdout.strip()
    assert second == "data.20261127T090000Z_2"
    assert recorded(out, "pre", "pre")["SNAPROTATE_SNAPSHOT"] == second


def test_failing_pre_hook_means_no_snapshot(env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    bad = sh_hook(tmp_path / "hooks" / "bad", """\
        echo "checking the database" >&2
        echo "the database is on fire" >&2
        exit 3
        """)
    post = recorder(tmp_path / "hooks" / "post", out)
    configure(env, pre=[bad], post=[post])
    r = env.run("snapshot", "data")
    assert r.returncode == 1
    assert (f"data: no snapshot: pre hook '{bad}' failed with exit status 3: "
            "checking the database | the database is on fire") in r.stderr, r.stderr
    no_snapshots(env)
    assert recorded(out, "post", "post")["SNAPROTATE_RESULT"] == "failure"


def test_hanging_pre_hook_is_killed_with_its_children(env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    hang = sh_hook(tmp_path / "hooks" / "hang", f"""\
        sleep 1000 &
        echo "$$ $!" > '{out}/pids'
        echo "waiting for ever" >&2
        wait
        """)
    post = recorder(tmp_path / "hooks" / "post", out)
    configure(env, pre=[hang], post=[post], hook_timeout="2s")
    start = time.monotonic()
    r = env.run("snapshot", "data", timeout=60)
    took = time.monotonic() - start
    pids = [int(p) for p in (out / "pids").read_text().split()]
    try:
        assert r.returncode == 1, r.stderr
        assert f"pre hook '{hang}' ran longer than hook_timeout (2s) and was killed" in r.stderr
        assert "waiting for ever" in r.stderr
        assert 2 <= took < 30
        # The hook and the child it left: the whole group is gone (zombies of
        # the reparented child count as gone).
        assert [proc_state(p) for p in pids] == [None, None]
        no_snapshots(env)
        assert recorded(out, "post", "post")["SNAPROTATE_RESULT"] == "failure"
    finally:
        for p in pids:
            kill_quietly(p)


@pytest.mark.parametrize("which", ["pre", "post"])
@pytest.mark.parametrize("unsafe", ["mode 0777", "mode 0775", "owner nobody"])
def test_unsafe_hook_refused_before_anything_runs(env, tmp_path, which, unsafe):
    out = tmp_path / "out"
    out.mkdir()
    hooks = {w: recorder(tmp_path / "hooks" / w, out) for w in ("pre", "post")}
    bad = hooks[which]
    if unsafe.startswith("mode"):
        os.chmod(bad, int(unsafe.split()[1], 8))
    else:
        os.chown(bad, 65534, 0)
    configure(env, pre=[hooks["pre"]], post=[hooks["post"]])
    r = env.run("snapshot", "data")
    assert r.returncode == 1
    assert f"hook '{bad}' must be owned by root and not writable by group or others" in r.stderr
    assert list(out.iterdir()) == [], "a hook ran"
    no_snapshots(env)


def test_hook_in_a_directory_others_can_write_is_refused(env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    hook = recorder(tmp_path / "open" / "pre", out)
    os.chmod(hook.parent, 0o777)       # anyone could swap the file
    configure(env, pre=[hook])
    r = env.run("snapshot", "data")
    assert r.returncode == 1
    assert f"directory '{hook.parent}' must be owned by root" in r.stderr
    assert r.stderr.startswith("snaprotate: data: no snapshot: hook ")
    assert list(out.iterdir()) == []
    no_snapshots(env)


def test_config_check_checks_the_hooks(env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    hook = recorder(tmp_path / "hooks" / "post", out)
    configure(env, post=[hook])
    assert env.run("config-check").returncode == 0
    os.chmod(hook, 0o777)
    r = env.run("config-check")
    assert r.returncode == 2
    assert f"{env.conf}:" in r.stderr and f"hook '{hook}' must be owned by root" in r.stderr
    configure(env, pre=[tmp_path / "missing"])
    r = env.run("config-check")
    assert r.returncode == 2
    assert f"hook '{tmp_path / 'missing'}': No such file or directory" in r.stderr, r.stderr


# --- fsfreeze -----------------------------------------------------------------------------

def fsfreeze_env(tmp_path, mounts, timeout=None):
    e = {"SNAPROTATE_FSFREEZE_MOUNTS": str(mounts),
         "SNAPROTATE_FSFREEZE_STATE_DIR": str(tmp_path / "hook-state")}
    if timeout:
        e["SNAPROTATE_FSFREEZE_TIMEOUT"] = str(timeout)
    return e


def blocked_by_freeze(pid):
    """The process waits at the filesystem's freeze barrier."""
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text()
        stack = Path(f"/proc/{pid}/stack").read_text()
    except OSError:
        return False
    return "percpu_rwsem" in wchan or "percpu_rwsem_wait" in stack


PROBE = """\
#!/usr/bin/python3
# Runs after the fsfreeze hook: starts a write on the frozen filesystem and
# records whether it blocks at the freeze barrier. It is left running, and
# finishes once the filesystem is thawed.
import pathlib, subprocess, time
out = pathlib.Path({out!r})
w = subprocess.Popen(["sh", "-c", 'echo written > "$1/probe"', "probe", {mnt!r}],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
(out / "writer").write_text(str(w.pid))
(out / "watchdog").write_text(
    pathlib.Path({state!r}, "watchdog").read_text().split()[0])
result, deadline = "timed out", time.monotonic() + 20
while time.monotonic() < deadline:
    if w.poll() is not None:
        result = "not frozen"
        break
    try:
        wchan = pathlib.Path(f"/proc/{{w.pid}}/wchan").read_text()
        stack = pathlib.Path(f"/proc/{{w.pid}}/stack").read_text()
    except OSError:
        wchan = stack = ""
    if "percpu_rwsem" in wchan or "percpu_rwsem_wait" in stack:
        result = "frozen"
        break
    time.sleep(0.01)
(out / "probe").write_text(result)
"""


def test_fsfreeze_freezes_during_the_snapshot(env, ext4, tmp_path):
    require("fsfreeze", "findmnt", "setsid", package="util-linux")
    out = tmp_path / "out"
    out.mkdir()
    hook = install(tmp_path / "hooks" / "fsfreeze", src=CONSISTENCY / "fsfreeze")
    probe = install(tmp_path / "hooks" / "probe", PROBE.format(
        out=str(out), mnt=str(ext4.mnt), state=str(tmp_path / "hook-state" / "fsfreeze.data")))
    post = recorder(tmp_path / "hooks" / "post", out)
    configure(env, pre=[hook, probe], post=[hook, post])
    writer = None
    try:
        r = env.ok("snapshot", "data", env=fsfreeze_env(tmp_path, ext4.mnt))
        writer = int((out / "writer").read_text())
        assert (out / "probe").read_text() == "frozen"
        assert not alive(int((out / "watchdog").read_text())), "the post hook stops the watchdog"
        # Thawed by the post hook: the blocked write went through, new ones too.
        wait_until(lambda: not alive(writer), 20, "the blocked write to finish")
        assert (ext4.mnt / "probe").read_text() == "written\n"
        run("sh", "-c", f"echo again > '{ext4.mnt}/again'", timeout=20)
        assert env.names() == [r.stdout.strip()]
        assert recorded(out, "post", "post")["SNAPROTATE_RESULT"] == "success"
        assert not (tmp_path / "hook-state" / "fsfreeze.data").exists()
    finally:
        run("fsfreeze", "-u", ext4.mnt, check=False)
        if writer:
            kill_quietly(writer)


def test_fsfreeze_watchdog_thaws_without_post_hook(env, ext4, tmp_path):
    """snaprotate is SIGKILLed between pre and post: the watchdog thaws after
    SNAPROTATE_FSFREEZE_TIMEOUT; the next run clears what was left."""
    require("fsfreeze", "findmnt", "setsid", package="util-linux")
    out = tmp_path / "out"
    out.mkdir()
    hook = install(tmp_path / "hooks" / "fsfreeze", src=CONSISTENCY / "fsfreeze")
    block = sh_hook(tmp_path / "hooks" / "block", f"""\
        echo $$ > '{out}/block'
        exec sleep 1000
        """)
    configure(env, pre=[hook, block], post=[hook])
    e = dict(os.environ, **fsfreeze_env(tmp_path, ext4.mnt, timeout=2))
    state = tmp_path / "hook-state" / "fsfreeze.data"
    p, blocker, writer = None, None, None
    try:
        # Output to files: what is left running must not hold a pipe of ours.
        with open(tmp_path / "stderr", "w") as err:
            p = subprocess.Popen([BINARY, "-c", env.conf, "snapshot", "data"], env=e,
                                 stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        wait_until(lambda: (out / "block").exists() and (out / "block").read_text(), 20,
                   "the pre hooks to run")
        frozen_at = time.monotonic()
        blocker = int((out / "block").read_text())
        watchdog = int((state / "watchdog").read_text().split()[0])
        writer = subprocess.Popen(["sh", "-c", f"echo written > '{ext4.mnt}/probe'"])
        wait_until(lambda: blocked_by_freeze(writer.pid) or writer.poll() is not None, 20,
                   "the write to block")
        assert writer.poll() is None, "the filesystem is not frozen"
        p.kill()
        p.wait()
        os.killpg(blocker, signal.SIGKILL)
        # No post hook: the watchdog thaws.
        writer.wait(30)
        took = time.monotonic() - frozen_at
        assert (ext4.mnt / "probe").read_text() == "written\n"
        assert 1 <= took < 20, took
        wait_until(lambda: not alive(watchdog), 20, "the watchdog to end")
        assert (state / "expired").exists()
        no_snapshots(env)

        # The next run finds the leftover state, and works.
        configure(env, pre=[hook], post=[hook])
        r = env.ok("snapshot", "data", env=fsfreeze_env(tmp_path, ext4.mnt, timeout=30))
        assert "thawing what an earlier run left frozen" in r.stderr
        assert len(env.names()) == 1
        assert not state.exists()
        run("sh", "-c", f"echo again > '{ext4.mnt}/again'", timeout=20)
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        if blocker:
            try:
                os.killpg(blocker, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run("fsfreeze", "-u", ext4.mnt, check=False)
        if writer is not None:
            stop_process(writer)


def test_fsfreeze_late_post_hook_reports_it(env, ext4, tmp_path):
    """A post hook that comes after the watchdog fired fails the run: the
    other filesystem was thawed before the snapshot was done."""
    require("fsfreeze", "findmnt", "setsid", package="util-linux")
    out = tmp_path / "out"
    out.mkdir()
    hook = install(tmp_path / "hooks" / "fsfreeze", src=CONSISTENCY / "fsfreeze")
    state = tmp_path / "hook-state" / "fsfreeze.data"
    # Waits (after the freeze) until the watchdog has thawed.
    late = sh_hook(tmp_path / "hooks" / "late", f"""\
        while [ ! -e '{state}/expired' ]; do sleep 0.05; done
        """)
    configure(env, pre=[hook, late], post=[hook], hook_timeout="30s")
    try:
        r = env.run("snapshot", "data", env=fsfreeze_env(tmp_path, ext4.mnt, timeout=1))
        assert r.returncode == 1
        assert "the freeze outlasted SNAPROTATE_FSFREEZE_TIMEOUT (1s)" in r.stderr, r.stderr
        assert len(env.names()) == 1, "the snapshot stands"
        assert not state.exists()
        run("sh", "-c", f"echo again > '{ext4.mnt}/again'", timeout=20)
    finally:
        run("fsfreeze", "-u", ext4.mnt, check=False)


@pytest.mark.parametrize("what", ["btrfs", "root", "not a mount point", "empty"])
def test_fsfreeze_refuses(env, tmp_path, what):
    require("fsfreeze", "findmnt", "setsid", package="util-linux")
    mounts, message = {
        "btrfs": (env.fs.mnt, f"'{env.fs.mnt}' is btrfs"),
        "root": ("/", "refusing to freeze the root filesystem"),
        "not a mount point": (tmp_path, f"'{tmp_path}' is not a mount point"),
        "empty": ("", "SNAPROTATE_FSFREEZE_MOUNTS is empty"),
    }[what]
    hook = install(tmp_path / "hooks" / "fsfreeze", src=CONSISTENCY / "fsfreeze")
    configure(env, pre=[hook], post=[hook])
    r = env.run("snapshot", "data", env=fsfreeze_env(tmp_path, mounts))
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert f"data: no snapshot: pre hook '{hook}' failed with exit status 1" in r.stderr
    no_snapshots(env)
    assert not (tmp_path / "hook-state" / "fsfreeze.data").exists()
