"""Defects of `serve` found in review, each reproduced: a symlinked block copy,
a planted .lock or .incoming.* symlink, repair removing what serve never
staged, an overlong request, a relative --root, a leak."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BINARY, Btrfs, Serve, info, run, send_stream, subvol_uuid
from test_serve_block import NAME as BNAME, VOLUME as BVOLUME, info as binfo, stream  # noqa: F401


@pytest.fixture
def target(tmp_path):
    (tmp_path / "t").mkdir()
    fs = Btrfs(tmp_path / "t")
    (fs.mnt / "backup").mkdir()
    try:
        yield fs
    finally:
        fs.close()


@pytest.fixture
def source(tmp_path):
    """A source snapshot laid out as snaprotate sends it (a subvolume 'snapshot')."""
    (tmp_path / "s").mkdir()
    fs = Btrfs(tmp_path / "s")
    try:
        vol = fs.subvolume("data")
        (vol / "f").write_text("hello")
        (fs.mnt / "p").mkdir()
        run("btrfs", "subvolume", "snapshot", "-r", vol, fs.mnt / "p" / "snapshot")
        yield fs, send_stream(fs.mnt / "p" / "snapshot"), subvol_uuid(fs.mnt / "p" / "snapshot")
    finally:
        fs.close()


def test_a_symlinked_block_copy_is_neither_listed_nor_fetched(tmp_path, stream):  # noqa: F811
    root = tmp_path / "root"
    root.mkdir()
    s = Serve(root)
    try:
        assert s.ask(f"RECEIVE {BVOLUME} {BNAME} {binfo(BNAME, 'uuid-a')}",
                     data=stream).startswith("OK ")
    finally:
        s.close()
    # Outside the root, something that looks like a copy, and a NAME pointing at it.
    fake = tmp_path / "elsewhere"
    fake.mkdir()
    other = "test.20261128T000000Z"
    (fake / "info.json").write_text(binfo(other, "uuid-b"))
    (fake / "image").write_bytes(b"the backup host's own file")
    os.symlink(fake, root / BVOLUME / other)
    s = Serve(root)
    try:
        listed = [c["name"] for c in json.loads(s.ask(f"LIST {BVOLUME}")[3:])["snapshots"]]
        assert listed == [BNAME]
        r = s.ask(f"FETCH {BVOLUME} {other}")
        assert r.startswith("ERR ") and "no copy" in r, r
        assert s.ask("INFO").startswith("OK ")
    finally:
        s.close()
    assert (fake / "image").read_bytes() == b"the backup host's own file"


def test_a_lock_symlink_is_replaced_not_followed(target, source, tmp_path):
    root = target.mnt / "backup"
    _, stream, uuid = source
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (root / "data").mkdir()
    os.symlink(victim, root / "data" / ".lock")
    s = Serve(root)
    try:
        r = s.receive("data.20261201T000000Z", uuid, stream)
        assert r.startswith("OK "), r          # not "another transfer is under way"
    finally:
        s.close()
    assert victim.read_text() == "keep"
    assert not os.path.islink(root / "data" / ".lock")


def test_a_staging_symlink_does_not_block_its_name(target, source, tmp_path):
    root = target.mnt / "backup"
    _, stream, uuid = source
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    (root / "data").mkdir()
    os.symlink(outside, root / "data" / ".incoming.data.20261201T000000Z")
    s = Serve(root)
    try:
        r = s.receive("data.20261201T000000Z", uuid, stream)
        assert r.startswith("OK "), r
    finally:
        s.close()
    assert sorted(os.listdir(outside)) == ["keep"]
    assert sorted(os.listdir(root / "data")) == [".lock", "data.20261201T000000Z"]


def test_repair_removes_only_what_serve_staged(target, source):
    """A NAME/snapshot without info.json that serve did not make (no received
    uuid: put there by someone else) survives the repair of a RECEIVE and a DELETE."""
    root = target.mnt / "backup"
    _, stream, uuid = source
    theirs = root / "data" / "data.20261130T000000Z"
    theirs.mkdir(parents=True)
    run("btrfs", "subvolume", "create", theirs / "snapshot")
    (theirs / "snapshot" / "precious").write_text("theirs")
    s = Serve(root)
    try:
        assert s.receive("data.20261201T000000Z", uuid, stream).startswith("OK ")
        assert s.ask("DELETE data data.20261201T000000Z").startswith("OK ")
        r = s.ask("DELETE data data.20261130T000000Z")
        assert r.startswith("ERR "), r
    finally:
        s.close()
    assert (theirs / "snapshot" / "precious").read_text() == "theirs"
    assert sorted(os.listdir(root / "data")) == [".lock", theirs.name]


def test_an_overlong_request_gets_an_error(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    p = subprocess.Popen([str(BINARY), "serve", "--root", str(root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"SNAPROTATE 1\n"
        try:
            p.stdin.write(b"LIST " + b"x" * (70 << 20) + b"\n")
            p.stdin.flush()
        except BrokenPipeError:
            pass                       # serve stopped reading once it had replied
        reply = p.stdout.readline().decode()
        assert reply.startswith("ERR ") and "longer than" in reply, reply
        assert p.stdout.readline() == b""      # and the session ends
    finally:
        p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except BrokenPipeError:
                pass


def test_relative_root_is_a_usage_error(tmp_path):
    r = run(BINARY, "serve", "--root", "relative/dir", check=False)
    assert r.returncode == 2, r
    assert "absolute" in r.stderr


# valgrind >= 3.22 knows openat2 (scripts/deps.sh unpacks Debian 13's; bookworm's 3.19
# answers it with ENOSYS, which refuses everything for another reason).
VALGRIND = Path("/var/tmp/snaprotate-tools/valgrind")


@pytest.mark.skipif(not (VALGRIND / "usr/bin/valgrind.bin").exists(),
                    reason="needs valgrind 3.24 (scripts/deps.sh)")
@pytest.mark.skipif(os.environ.get("SANITIZED_BUILD") == "1",
                    reason="an ASan build does not run under valgrind")
@pytest.mark.skipif(os.environ.get("VALGRIND_BUILD") == "1",
                    reason="the binary runs under valgrind already")
def test_no_leak_when_the_volume_cannot_be_opened(target, source):
    root = target.mnt / "backup"
    _, stream, uuid = source
    os.symlink("/", root / "data")           # a volume directory that is refused
    log = target.base / "vg.log"
    p = subprocess.Popen([str(VALGRIND / "usr/bin/valgrind.bin"), "-q", "--leak-check=full",
                          "--errors-for-leak-kinds=all", "--error-exitcode=99",
                          f"--log-file={log}", str(BINARY), "serve", "--root", str(root)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env={**os.environ, "VALGRIND_LIB": str(VALGRIND / "usr/libexec/valgrind")})
    s = Serve.__new__(Serve)
    s.p = p
    assert p.stdout.readline() == b"SNAPROTATE 1\n"
    r = s.receive("data.20261201T000000Z", uuid, stream)
    assert r.startswith("ERR "), r
    p.stdin.close()
    assert p.wait(timeout=120) == 0, log.read_text()
    p.stdout.close()


def test_a_fifo_info_json_does_not_hang_list(target, source):
    root = target.mnt / "backup"
    _, stream, uuid = source
    s = Serve(root)
    try:
        assert s.receive("data.20261201T000000Z", uuid, stream).startswith("OK ")
    finally:
        s.close()
    fifo = root / "data" / "data.20261202T000000Z"
    fifo.mkdir()
    os.mkfifo(fifo / "info.json")
    p = subprocess.run([str(BINARY), "serve", "--root", str(root)], input=b"LIST data\nQUIT\n",
                       capture_output=True, timeout=30)
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "SNAPROTATE 1" and lines[1].startswith("OK "), lines
    assert [c["name"] for c in json.loads(lines[1][3:])["snapshots"]] == ["data.20261201T000000Z"]


def test_a_huge_sent_to_is_refused_at_once(target, source):
    """A RECEIVE line whose info.json carries 5,000 sent_to records: more than
    any config has targets, and over the size of an info.json."""
    root = target.mnt / "backup"
    _, stream, uuid = source
    doc = json.loads(info("data.20261201T000000Z", uuid))
    doc["sent_to"] = {f"t{i}": "2026-12-01T00:00:00Z" for i in range(5000)}
    line = json.dumps(doc, separators=(",", ":"))
    s = Serve(root)
    try:
        r = s.ask(f"RECEIVE data data.20261201T000000Z {line}", data=stream)
        assert r.startswith("ERR ") and "not valid" in r, r
        assert s.ask("INFO").startswith("OK ")
    finally:
        s.close()
    assert not (root / "data" / "data.20261201T000000Z").exists()
