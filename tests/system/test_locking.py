"""One writer per volume: a second exits 3 naming the holder, or waits with --wait."""
import fcntl
import os
import subprocess

from conftest import BINARY, wait_until


def hold_lock(env):
    env.lockdir.mkdir(exist_ok=True)
    fd = os.open(env.lockdir / "data.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    return fd


def blocked_on_lock(pid):
    """/proc/locks shows a waiter as '->' with its PID."""
    with open("/proc/locks") as f:
        return any(line.split()[1] == "->" and line.split()[5] == str(pid)
                   for line in f if len(line.split()) > 5)


def test_second_writer_exits_3_naming_the_holder(env):
    env.ok("snapshot", "data", "--now", "2026-11-27T08:00:00Z")
    fd = hold_lock(env)
    try:
        before = env.tree()
        for argv in (["snapshot", "data"], ["delete", "data", "latest"],
                     ["pin", "data", "latest"], ["unpin", "data", "latest"],
                     ["prune"], ["run"], ["rollback", "data", "latest"]):
            r = env.run(*argv)
            assert r.returncode == 3, r.stderr
            assert f"PID {os.getpid()}" in r.stderr and "--wait" in r.stderr
        assert env.tree() == before
        # Readers never take the lock.
        assert env.run("list").returncode == 0
        assert env.run("list", "--json").returncode == 0
        # (status exits 1: there is no timeline snapshot, a problem, not a lock)
        assert env.run("status").returncode == 1
        assert env.run("status", "--json").returncode == 1
    finally:
        os.close(fd)
    env.ok("snapshot", "data")
    assert len(env.names()) == 2


def test_wait_blocks_until_the_lock_is_free(env):
    fd = hold_lock(env)
    try:
        p = subprocess.Popen([str(BINARY), "-c", str(env.conf), "--wait", "snapshot", "data",
                              "--now", "2026-11-27T08:00:00Z"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: blocked_on_lock(p.pid), what="snaprotate to block on the lock")
        assert p.poll() is None
        assert env.names() == []
    finally:
        os.close(fd)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert env.names() == ["data.20261127T080000Z"]


def test_concurrent_writers_never_corrupt(env):
    """Many racing writers: each either succeeds or exits 3, and every result is complete."""
    procs = [subprocess.Popen([str(BINARY), "-c", str(env.conf), "snapshot", "data",
                               "--now", "2026-11-27T08:00:00Z"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    codes = [p.wait(timeout=60) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert set(codes) <= {0, 3}
    assert 0 in codes
    snaps = env.snaps()
    assert len(snaps) == codes.count(0)
    assert all(s["complete"] for s in snaps)
    assert len({s["name"] for s in snaps}) == len(snaps)


def test_concurrent_waiters_all_succeed_with_distinct_names(env):
    procs = [subprocess.Popen([str(BINARY), "-c", str(env.conf), "--wait", "snapshot", "data",
                               "--now", "2026-11-27T08:00:00Z"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    codes = [p.wait(timeout=60) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0] * 6
    names = env.names()
    assert names == ["data.20261127T080000Z"] + [f"data.20261127T080000Z_{i}"
                                                 for i in range(2, 7)]
    assert all(s["complete"] for s in env.snaps())


def test_run_skips_a_busy_volume_without_recording_a_failure(env):
    fd = hold_lock(env)
    try:
        r = env.run("run", "--now", "2026-11-27T08:00:00Z")
        assert r.returncode == 3, r.stderr
        assert "locked by another snaprotate" in r.stderr
        assert not (env.base / "state" / "data.json").exists()
        assert env.names() == []
    finally:
        os.close(fd)
    env.ok("run", "--now", "2026-11-27T08:00:00Z")
    assert env.names() == ["data.20261127T080000Z"]
