"""SIGKILL at every syscall of snapshot, delete and prune: whatever moment a
crash hits, no snapshot looks complete but isn't, and the next prune repairs
what is left. The kill is injected by strace on the real binary, on real btrfs."""
import json
import shutil
import subprocess

import pytest

from conftest import BINARY, run

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")


def check_invariants(env):
    """Every snapshot list calls complete is whole: a read-only subvolume whose
    UUID is the one its info.json records."""
    for s in env.snaps():
        d = env.snapdir / s["name"]
        if not s["complete"] or s["foreign"]:
            continue
        info = json.loads((d / "info.json").read_text())
        show = run("btrfs", "subvolume", "show", d / "snapshot").stdout
        assert f"UUID: \t\t\t{info['uuid']}" in show or info["uuid"] in show.split(
            "Parent UUID")[0], show
        ro = run("btrfs", "property", "get", "-ts", d / "snapshot", "ro").stdout.strip()
        assert ro == "ro=true"


def repair_and_check(env):
    r = env.run("prune", "--now", "2026-12-31T00:00:00Z")
    assert r.returncode == 0, r.stderr
    snaps = env.snaps()
    assert all(s["complete"] for s in snaps), snaps
    for s in snaps:
        leftovers = [p.name for p in (env.snapdir / s["name"]).iterdir()]
        assert sorted(leftovers) == ["info.json", "snapshot"], leftovers
    check_invariants(env)


def reset(env):
    """A fresh starting point for each kill: two manual snapshots."""
    for n in env.names():
        env.ok("delete", "--force", "data", n)
    env.ok("snapshot", "data", "--now", "2026-12-01T00:00:00Z")
    env.ok("snapshot", "data", "--now", "2026-12-02T00:00:00Z")


def syscalls(env, argv, tmp_path):
    """Each syscall the command makes, as (name, nth occurrence of that name)."""
    log = tmp_path / "trace"
    subprocess.run(["strace", "-f", "-qq", "-o", str(log), str(BINARY), "-c", str(env.conf),
                    *argv], check=True, capture_output=True)
    seen, points = {}, []
    for line in log.read_text().splitlines():
        name = line.split(None, 1)[1].split("(", 1)[0] if " " in line else ""
        if not name.isidentifier():
            continue
        seen[name] = seen.get(name, 0) + 1
        points.append((name, seen[name]))
    return points


ARGV = {
    "snapshot": ["snapshot", "data", "--now", "2026-12-03T00:00:00Z"],
    "delete": ["delete", "data", "20261201"],
    "prune": ["prune", "--now", "2026-12-03T00:00:00Z"],
}


@pytest.mark.parametrize("verb", sorted(ARGV))
def test_kill_at_every_syscall(env, verb, tmp_path):
    env.write_config(extra_volume="retain = daily=1\nretain_manual = 0\n")
    reset(env)
    points = syscalls(env, ARGV[verb], tmp_path)
    # Before the volume lock (a POSIX lock, fcntl) nothing is written: the loader,
    # the config and the probes. Every syscall from the lock on is a kill point.
    points = points[[n for n, _ in points].index("fcntl"):]
    assert len(points) > 15
    killed = 0
    for name, nth in points:
        reset(env)
        r = subprocess.run(["strace", "-f", "-o", "/dev/null", "-e", f"trace={name}", "-e",
                            f"inject={name}:signal=KILL:when={nth}", str(BINARY), "-c",
                            str(env.conf), *ARGV[verb]], capture_output=True, text=True)
        assert r.returncode in (0, -9, 128 + 9), (name, nth, r.returncode, r.stderr)
        killed += r.returncode != 0
        check_invariants(env)
        repair_and_check(env)
    assert killed > len(points) // 2
