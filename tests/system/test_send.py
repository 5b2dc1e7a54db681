"""send and run to file:// and ssh:// targets: two real loop btrfs filesystems,
and a real sshd on 127.0.0.1 whose forced command runs the built `serve`."""
import hashlib
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import BINARY, Btrfs, Serve, run, wait_until


def tree_digest(root):
    """Names, types, modes, sizes and content of everything under root."""
    h = hashlib.sha256()
    root = Path(root)
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for n in sorted(filenames) + dirnames:
            p = Path(dirpath) / n
            st = p.lstat()
            h.update(f"{p.relative_to(root)}|{st.st_mode:o}|{st.st_size}\n".encode())
            if p.is_file() and not p.is_symlink():
                h.update(hashlib.sha256(p.read_bytes()).digest())
            elif p.is_symlink():
                h.update(os.readlink(p).encode())
    return h.hexdigest()


def subvol_show(path):
    out = run("btrfs", "subvolume", "show", path).stdout
    fields = {}
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    return fields


def write_random(path, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


@pytest.fixture
def target_fs(tmp_path):
    base = tmp_path / "target"
    base.mkdir()
    fs = Btrfs(base)
    (fs.mnt / "backup").mkdir()
    try:
        yield fs
    finally:
        fs.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    def __init__(self, base: Path, root: Path):
        self.dir = base / "ssh"
        self.dir.mkdir()
        self.port = free_port()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.dir / "hostkey")
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.dir / "client")
        pub = (self.dir / "client.pub").read_text().strip()
        (self.dir / "authorized_keys").write_text(
            f'command="{BINARY} serve --root {root}",restrict {pub}\n')
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir}/hostkey\n"
            f"AuthorizedKeysFile {self.dir}/authorized_keys\nStrictModes no\n"
            f"PidFile {self.dir}/pid\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f",
                                      str(self.dir / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self._listening, what="sshd to listen")

    def _listening(self):
        assert self.proc.poll() is None, self.proc.stderr.read().decode()
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def target_section(self, name, root, extra=""):
        return (f"[target {name}]\nurl = ssh://root@127.0.0.1:{self.port}{root}\n"
                f"ssh_identity = {self.dir}/client\n"
                "ssh_options = -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                "-o LogLevel=ERROR\n" + extra)

    def stop(self):
        """Stops sshd; what it logged (one line per login with -e) stays in .log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if not self.proc.stderr.closed:
            self.log = self.proc.stderr.read().decode(errors="replace")
            self.proc.stderr.close()


@pytest.fixture
def sshd(tmp_path, target_fs):
    d = Sshd(tmp_path, target_fs.mnt / "backup")
    try:
        yield d
    finally:
        d.stop()


def configure(env, target_fs, sshd=None, src_retain="retain = daily=7 weekly=4\n",
              tgt_retain="retain = daily=3 weekly=2\n"):
    if sshd:
        tsec = sshd.target_section("nas", target_fs.mnt / "backup", tgt_retain)
    else:
        tsec = f"[target nas]\nurl = file://{target_fs.mnt}/backup\n{tgt_retain}"
    env.write_config(extra_volume=src_retain + "targets = nas\n", extra=tsec)


def copies(target_fs, volume="data"):
    d = target_fs.mnt / "backup" / volume
    if not d.exists():
        return []
    return sorted(p.name for p in d.iterdir() if not p.name.startswith("."))


def complete_copies(target_fs, volume="data"):
    """What the target holds whole: a NAME with info.json and a received subvolume."""
    out = []
    for name in copies(target_fs, volume):
        d = target_fs.mnt / "backup" / volume / name
        if (d / "info.json").exists() and (d / "snapshot").is_dir():
            if subvol_show(d / "snapshot").get("Received UUID", "-") != "-":
                out.append(name)
    return out


def check_copy(env, target_fs, name, volume="data"):
    src = env.snapdir / name / "snapshot"
    dst = target_fs.mnt / "backup" / volume / name / "snapshot"
    assert tree_digest(src) == tree_digest(dst), name
    s, d = subvol_show(src), subvol_show(dst)
    assert d["Received UUID"] == s["UUID"]
    return s, d


@pytest.mark.parametrize("via", ["file", "ssh"])
def test_full_then_incremental(env, target_fs, request, via):
    ssh = request.getfixturevalue("sshd") if via == "ssh" else None
    configure(env, target_fs, ssh)
    write_random(env.data / "big", 40)
    (env.data / "dir").mkdir()
    (env.data / "dir" / "small").write_text("hello")
    os.symlink("dir/small", env.data / "link")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-20T12:00:00Z")
    out = json.loads(env.ok("send", "--json", "data", "--now", "2026-11-20T12:01:00Z").stdout)
    sent = out["volumes"][0]["targets"][0]["sent"]
    assert [s["name"] for s in sent] == ["data.20261120T120000Z"]
    assert sent[0]["parent"] is None and sent[0]["bytes"] > 40 << 20
    check_copy(env, target_fs, "data.20261120T120000Z")

    # 3 MiB change in a 40 MiB volume: the next send carries the change only.
    with open(env.data / "big", "r+b") as f:
        f.seek(10 << 20)
        f.write(os.urandom(3 << 20))
    (env.data / "dir" / "small").unlink()
    (env.data / "new").write_text("new file")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-21T12:00:00Z")
    out = json.loads(env.ok("send", "--json", "data", "--now", "2026-11-21T12:01:00Z").stdout)
    sent = out["volumes"][0]["targets"][0]["sent"]
    assert [s["name"] for s in sent] == ["data.20261121T120000Z"]
    assert sent[0]["parent"] == "data.20261120T120000Z"
    assert 3 << 20 < sent[0]["bytes"] < 5 << 20, sent[0]["bytes"]
    s, d = check_copy(env, target_fs, "data.20261121T120000Z")
    assert d["Parent UUID"] != "-"          # received as an incremental
    # The source records what the target confirmed.
    snaps = {x["name"]: x for x in env.snaps()}
    assert snaps["data.20261121T120000Z"]["sent_to"] == {"nas": "2026-11-21T12:01:00Z"}
    # Nothing new: nothing sent.
    out = json.loads(env.ok("send", "--json", "data").stdout)
    assert out["volumes"][0]["targets"][0]["sent"] == []
    info = json.loads((target_fs.mnt / "backup" / "data" / "data.20261121T120000Z" /
                       "info.json").read_text())
    assert info["name"] == "data.20261121T120000Z" and info["sent_to"] == {}


def test_one_ssh_session_per_run(env, target_fs, sshd, btrfs):
    """Two volumes, several snapshots each: one login for the whole run."""
    logs = btrfs.subvolume("logs")
    tsec = sshd.target_section("nas", target_fs.mnt / "backup", "retain = hourly=10\n")
    env.write_config(extra_volume="retain = hourly=10\ntargets = nas\n",
                     extra=f"[volume logs]\nbackend = btrfs\npath = {logs}\n"
                     f"snapshot_dir = {btrfs.mnt}/logsnaps\nretain = hourly=10\n"
                     f"targets = nas\n\n" + tsec)
    for h in range(3):
        env.ok("snapshot", "--kind", "timeline", "data", "logs", "--now",
               f"2026-11-27T0{h}:00:00Z")
    env.ok("run", "--now", "2026-11-27T03:30:00Z")
    assert len(complete_copies(target_fs, "data")) == 4
    assert len(complete_copies(target_fs, "logs")) == 4
    sshd.stop()
    assert sshd.log.count("Accepted publickey") == 1, sshd.log


def test_target_retention_differs_from_the_source(env, target_fs):
    configure(env, target_fs, src_retain="retain = daily=7\n",
              tgt_retain="retain = daily=2 weekly=2\n")
    for day in range(1, 22):
        env.ok("run", "--now", f"2026-11-{day:02d}T12:00:00Z")
        src = env.names()
        tgt = complete_copies(target_fs)
        assert len([n for n in src if n.startswith("data.2026")]) <= 8
        # The target keeps its own: 2 days plus up to 2 weeks' first, never more.
        assert len(tgt) <= 4, tgt
        assert tgt[-1] == src[-1]                     # the newest is always there
    # Weekly keeps the first of each ISO week that the target holds.
    assert "data.20261116T120000Z" in tgt            # Monday of 2026-W47
    assert tgt[-2:] == ["data.20261120T120000Z", "data.20261121T120000Z"]
    # The source never kept more than its own rules: 7 days.
    assert env.names()[0] == "data.20261115T120000Z"


def test_target_offline_for_a_week(env, target_fs):
    configure(env, target_fs, src_retain="retain = daily=3\n", tgt_retain="retain = daily=5\n")
    for day in range(1, 4):
        env.ok("run", "--now", f"2026-11-{day:02d}T12:00:00Z")
    base = "data.20261103T120000Z"
    assert complete_copies(target_fs)[-1] == base
    run("umount", target_fs.mnt)           # the disk is unplugged
    target_fs.mounted = False
    try:
        for day in range(4, 11):
            r = env.run("run", "--now", f"2026-11-{day:02d}T12:00:00Z")
            assert "target 'nas' is offline" in r.stderr, r.stderr
            if day <= 5:    # the newest copy is younger than the rpo (2.5 days for daily)
                assert r.returncode == 0 and "not a failure yet" in r.stderr, r.stderr
            else:
                assert r.returncode == 1 and "past the target's rpo of 2d 12h" in r.stderr
                assert "run failed for 1 volume: data" in r.stderr
            names = env.names()
            assert base in names                                  # the base stays
            assert len(names) <= 4, names                         # pruning goes on: 3 + base
            r = env.run("prune", "--json", "--dry-run", "--now", f"2026-11-{day:02d}T12:00:01Z")
            assert r.returncode == 1
            dec = {d["name"]: d for d in json.loads(r.stdout)["volumes"][0]["decisions"]}
            assert "base for target nas" in dec[base]["reasons"]
            if day >= 6:        # out of daily=3 by now: the base alone keeps it
                assert dec[base]["reasons"] == ["base for target nas"]
    finally:
        run("mount", target_fs.loop, target_fs.mnt)
        target_fs.mounted = True
    # Back online: the run catches up from the base, incrementally.
    r = env.run("run", "--json", "--now", "2026-11-11T12:00:00Z")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    sent = out["volumes"][0]["targets"][0]["sent"]
    assert sent[0]["parent"] == base
    assert complete_copies(target_fs)[-1] == "data.20261111T120000Z"
    assert base not in env.names()                     # no longer needed as the base
    check_copy(env, target_fs, "data.20261111T120000Z")


def test_source_keeps_the_base_with_its_reason(env, target_fs):
    configure(env, target_fs, src_retain="retain = hourly=1\n", tgt_retain="retain = hourly=5\n")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T01:00:00Z")
    env.ok("send", "data")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T02:00:00Z")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T03:00:00Z")
    out = json.loads(env.ok("prune", "--json", "--dry-run", "--now",
                            "2026-11-27T03:30:00Z").stdout)
    dec = {d["name"]: d for d in out["volumes"][0]["decisions"]}
    assert dec["data.20261127T010000Z"]["reasons"] == ["base for target nas"]
    assert dec["data.20261127T020000Z"]["action"] == "delete"


# --- faults -----------------------------------------------------------------


def incoming(target_fs):
    d = target_fs.mnt / "backup" / "data"
    return d.exists() and any(p.name.startswith(".incoming.") for p in d.iterdir())


def children(pid):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p.name))
    return out


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def find_procs(pred):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if pred([c.decode(errors="replace") for c in cmd]):
                out.append(int(p.name))
    return out


def start_send(env):
    return subprocess.Popen([str(BINARY), "-c", str(env.conf), "run", "--now",
                             "2026-11-27T12:00:00Z"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def after_fault(env, target_fs, p):
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0
    # Nothing the target would take for a copy of the interrupted snapshot.
    assert "data.20261127T120000Z" not in complete_copies(target_fs)
    for name in copies(target_fs):
        assert name in complete_copies(target_fs), f"{name} looks like a copy but is not"
    # The next run removes the leftovers and succeeds.
    r = env.run("run", "--now", "2026-11-27T13:00:00Z")
    assert r.returncode == 0, r.stderr
    assert not incoming(target_fs)
    assert complete_copies(target_fs)[-1] == "data.20261127T130000Z"
    check_copy(env, target_fs, "data.20261127T130000Z")


FAULTS = ["kill-ssh-client", "kill-sshd-child", "kill-serve", "kill-snaprotate"]


@pytest.mark.parametrize("fault", FAULTS)
def test_cut_transfer(env, target_fs, sshd, fault):
    configure(env, target_fs, sshd, src_retain="retain = hourly=5\n",
              tgt_retain="retain = hourly=5\n")
    write_random(env.data / "big", 300)
    p = start_send(env)
    wait_until(lambda: incoming(target_fs) or p.poll() is not None, timeout=60,
               what="the transfer to start")
    assert p.poll() is None, p.communicate()
    if fault == "kill-ssh-client":
        pids = [c for c in children(p.pid) if comm(c) == "ssh"]
    elif fault == "kill-sshd-child":
        pids = [c for c in children(sshd.proc.pid)]
    elif fault == "kill-serve":
        pids = find_procs(lambda c: len(c) > 1 and c[0] == str(BINARY) and "serve" in c)
    else:
        pids = [p.pid]
    assert pids, fault
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    after_fault(env, target_fs, p)


def test_target_out_of_space(env, tmp_path):
    small_base = tmp_path / "small"
    small_base.mkdir()
    small = Btrfs(small_base, size="300M")
    try:
        (small.mnt / "backup").mkdir()
        configure(env, small, src_retain="retain = hourly=5\n", tgt_retain="retain = hourly=5\n")
        write_random(env.data / "big", 400)
        r = env.run("run", "--now", "2026-11-27T12:00:00Z")
        assert r.returncode == 1
        assert "target 'nas'" in r.stderr and "No space left on device" in r.stderr, r.stderr
        # The target's own words, once: not followed by the sender's errno text.
        assert "Remote I/O error" not in r.stderr, r.stderr
        assert complete_copies(small) == []
        # With the big snapshot gone, the next run cleans up and succeeds.
        os.unlink(env.data / "big")
        env.ok("delete", "data", "data.20261127T120000Z")
        r = env.run("run", "--now", "2026-11-27T13:00:00Z")
        assert r.returncode == 0, r.stderr
        assert not incoming(small)
        assert complete_copies(small) == ["data.20261127T130000Z"]
        check_copy(env, small, "data.20261127T130000Z")
    finally:
        small.close()


# --- serve ------------------------------------------------------------------


def test_serve_refuses_hostile_requests(target_fs, tmp_path):
    root = target_fs.mnt / "backup"
    outside = target_fs.mnt / "outside"
    outside.mkdir()
    # A subvolume that looks like a copy but was never received here.
    (root / "data").mkdir()
    fake = root / "data" / "data.20261127T080000Z"
    fake.mkdir()
    run("btrfs", "subvolume", "create", fake / "snapshot")
    (fake / "info.json").write_text(json.dumps({
        "format": 1, "volume": "data", "name": fake.name, "created": "2026-11-27T08:00:00Z",
        "kind": "manual", "description": "", "pinned": False}))
    s = Serve(root)
    try:
        assert s.ask("INFO").startswith("OK {")
        for bad in ("LIST ..", "LIST .", "LIST ../outside", "LIST a/b", "LIST -x",
                    "DELETE data ../outside", "DELETE .. data.20261127T080000Z",
                    "DELETE data data.20261127T080000Z/../..", "FROB", ""):
            assert s.ask(bad).startswith("ERR "), bad
        # Hostile names with a stream: the stream is read and refused.
        for name in ("../../outside", "data.20261127T090000Z/x", "x"):
            r = s.ask(f"RECEIVE data {name} {{}}", data=b"garbage")
            assert r.startswith("ERR "), name
        # A stream that is not a btrfs stream: refused, nothing left.
        info = json.dumps({"format": 1, "volume": "data", "name": "data.20261127T090000Z",
                           "created": "2026-11-27T09:00:00Z", "kind": "manual",
                           "description": "", "pinned": False, "uuid": "x"})
        r = s.ask(f"RECEIVE data data.20261127T090000Z {info}", data=os.urandom(4096))
        assert r.startswith("ERR "), r
        assert not (root / "data" / "data.20261127T090000Z").exists()
        # It deletes only what it received.
        r = s.ask("DELETE data data.20261127T080000Z")
        assert r.startswith("ERR ") and "not received" in r
        assert (fake / "snapshot").is_dir()
        assert s.ask("LIST data").startswith("OK ")
    finally:
        s.close()
    assert sorted(os.listdir(target_fs.mnt)) == ["backup", "outside"]
    assert os.listdir(outside) == []


def test_dry_run_changes_neither_side(env, target_fs):
    configure(env, target_fs)
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-20T12:00:00Z")
    env.ok("send", "data")
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-21T12:00:00Z")
    # Leftovers of a cut transfer stay until a real run.
    left = target_fs.mnt / "backup" / "data" / ".incoming.data.20261121T120000Z"
    left.mkdir()
    before_src, before_tgt = env.tree(), sorted(os.listdir(target_fs.mnt / "backup" / "data"))
    out = env.ok("run", "--dry-run", "--now", "2026-11-21T12:30:00Z").stdout
    assert "would send data.20261121T120000Z to nas (incremental from data.20261120T120000Z)" in out
    out = env.ok("send", "--dry-run", "data").stdout
    assert "would send" in out
    assert env.tree() == before_src
    assert sorted(os.listdir(target_fs.mnt / "backup" / "data")) == before_tgt
    env.ok("run", "--now", "2026-11-21T12:30:00Z")
    assert not left.exists()
    assert complete_copies(target_fs)[-1] == "data.20261121T120000Z"


def test_a_failed_send_says_so_and_names_the_volume(env, target_fs, sshd):
    """serve killed mid-stream: the error names the volume and the target, and
    nothing claims the target is up to date."""
    configure(env, target_fs, sshd, src_retain="retain = hourly=5\n",
              tgt_retain="retain = hourly=5\n")
    write_random(env.data / "big", 300)
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2026-11-27T12:00:00Z")
    p = subprocess.Popen([str(BINARY), "-c", str(env.conf), "send", "data"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: incoming(target_fs) or p.poll() is not None, timeout=60,
               what="the transfer to start")
    pids = find_procs(lambda c: len(c) > 1 and c[0] == str(BINARY) and "serve" in c)
    assert pids and p.poll() is None
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1, (out, err)
    assert "nothing to send" not in out and "holds the newest" not in out, out
    assert "data: target 'nas'" in err, err
    r = env.run("send", "--json", "data")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["volumes"][0]["targets"][0]["failed"] is False


@pytest.mark.parametrize("send_pinned", ["yes", "no"])
def test_a_pinned_snapshot_goes_to_the_target_while_pinned(env, target_fs, send_pinned):
    """send_pinned = yes (the default): a snapshot pinned on the source after newer ones
    were sent still reaches the target, which keeps it while the source pins it."""
    configure(env, target_fs, src_retain="retain = daily=7\n",
              tgt_retain=f"retain = daily=1\nsend_pinned = {send_pinned}\n")
    for day in range(1, 4):
        env.ok("run", "--now", f"2026-11-{day:02d}T12:00:00Z")
    good = "data.20261101T120000Z"
    assert complete_copies(target_fs) == ["data.20261103T120000Z"]
    env.ok("pin", "data", good)
    env.ok("run", "--now", "2026-11-04T12:00:00Z")
    held = complete_copies(target_fs)
    if send_pinned == "no":
        assert held == ["data.20261104T120000Z"], held
        return
    assert held == [good, "data.20261104T120000Z"], held
    check_copy(env, target_fs, good)
    env.ok("run", "--now", "2026-11-05T12:00:00Z")
    assert complete_copies(target_fs) == [good, "data.20261105T120000Z"]
    # Unpinned on the source, the copy is the target's retention's again.
    env.ok("unpin", "data", good)
    env.ok("run", "--now", "2026-11-06T12:00:00Z")
    assert complete_copies(target_fs) == ["data.20261106T120000Z"]
    assert good in env.names()                       # the source still keeps it: daily=7


def test_list_target_shows_what_the_target_holds(env, target_fs, sshd):
    configure(env, target_fs, sshd, tgt_retain="retain = hourly=24\n")
    for hour in (10, 11):
        env.ok("snapshot", "--kind", "timeline", "data", "--now", f"2026-11-27T{hour}:00:00Z")
    env.ok("send", "data")
    doc = json.loads(env.ok("list", "--json", "--target", "nas", "data").stdout)
    copies = doc["volumes"][0]["snapshots"]
    assert [c["name"] for c in copies] == complete_copies(target_fs)
    assert [c["name"] for c in copies] == ["data.20261127T100000Z", "data.20261127T110000Z"]
    r = env.ok("list", "--target", "nas", "data")
    assert r.stdout.startswith("data on target nas (ssh://"), r.stdout
    assert "data.20261127T110000Z" in r.stdout
    r = env.run("list", "--target", "nowhere", "data")
    assert r.returncode == 2 and "unknown target 'nowhere'" in r.stderr
