"""`serve` with block copies (LVM volumes), driven over its protocol with streams
made by build/tests/blockstream-tool from a file: storing, verifying, listing,
fetching, refusing damaged or unrelated streams, and never breaking a chain. The
root is a plain directory: block copies need no btrfs. (Real LVM sources, thin
deltas and restore are tested in the VM by test_lvm.py.)"""
import json
import os
import subprocess

import pytest

from conftest import ROOT, Serve, run

TOOL = ROOT / "build" / "tests" / "blockstream-tool"
VOLUME = "test"                     # blockstream-tool writes this volume name
NAME = "test.20261127T000000Z"


def info(name, uuid, image="full", base=None):
    return json.dumps({"format": 1, "volume": VOLUME, "name": name,
                       "created": f"{name[5:9]}-{name[9:11]}-{name[11:13]}T00:00:00Z",
                       "kind": "manual", "description": "", "pinned": False,
                       "uuid": uuid, "image": image, "base": base},
                      separators=(",", ":"))


@pytest.fixture
def stream(tmp_path):
    """A full image of a 3 MiB device whose middle MiB is zeros."""
    dev = tmp_path / "dev.img"
    dev.write_bytes(os.urandom(1 << 20) + bytes(1 << 20) + os.urandom(1 << 20))
    out = tmp_path / "full.blk"
    run(TOOL, "full", dev, out, NAME, "uuid-a")
    return out.read_bytes()


@pytest.fixture
def serve(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    s = Serve(root)
    try:
        yield s, root
    finally:
        s.close()


def test_receive_list_fetch(serve, stream):
    s, root = serve
    r = s.ask(f"RECEIVE {VOLUME} {NAME} {info(NAME, 'uuid-a')}", data=stream)
    assert r.startswith("OK ") and json.loads(r[3:])["bytes"] == len(stream), r
    assert sorted(os.listdir(root / VOLUME / NAME)) == ["image", "info.json"]
    assert (root / VOLUME / NAME / "image").read_bytes() == stream
    # the zero MiB travels as a ZERO extent: the stream is about 2 MiB
    assert len(stream) < (2 << 20) + 4096
    copies = json.loads(s.ask(f"LIST {VOLUME}")[3:])["snapshots"]
    assert [(c["name"], c["uuid"], c["image"], c["base"]) for c in copies] == \
        [(NAME, "uuid-a", "full", None)]
    s.p.stdin.write(f"FETCH {VOLUME} {NAME}\n".encode())
    s.p.stdin.flush()
    assert s.p.stdout.readline().startswith(b"OK {")
    got = b""
    while True:
        n = int(s.p.stdout.readline().split()[1])
        if n == 0:
            break
        got += s.p.stdout.read(n)
    assert got == stream


@pytest.mark.parametrize("damage", ["flip", "truncate", "other-uuid"])
def test_damaged_or_unannounced_streams_are_refused(serve, stream, damage):
    s, root = serve
    data, uuid = stream, "uuid-a"
    if damage == "flip":
        data = bytearray(stream)
        data[len(data) // 2] ^= 0x40
        data = bytes(data)
    elif damage == "truncate":
        data = stream[:-100]
    elif damage == "other-uuid":
        uuid = "uuid-b"
    r = s.ask(f"RECEIVE {VOLUME} {NAME} {info(NAME, uuid)}", data=data)
    assert r.startswith("ERR ") and "damaged or not as announced" in r, r
    # nothing that could pass for a copy, and no leftover
    assert [e for e in os.listdir(root / VOLUME) if not e.startswith(".")] == []
    assert not any(e.startswith(".incoming.") for e in os.listdir(root / VOLUME))
    assert json.loads(s.ask(f"LIST {VOLUME}")[3:])["snapshots"] == []


def test_delta_needs_its_base_and_a_base_is_never_deleted(serve, stream):
    s, root = serve
    other = "test.20261128T000000Z"
    r = s.ask(f"RECEIVE {VOLUME} {other} {info(other, 'uuid-b', 'delta', NAME)}",
              data=b"x" * 100)
    assert r.startswith("ERR ") and "its base is not here" in r, r
    assert s.ask(f"RECEIVE {VOLUME} {NAME} {info(NAME, 'uuid-a')}", data=stream).startswith("OK")
    # A copy stored as a delta of NAME (made by hand: no LVM here).
    d = root / VOLUME / other
    d.mkdir()
    (d / "delta").write_bytes(b"delta")
    (d / "info.json").write_text(info(other, "uuid-b", "delta", NAME))
    copies = json.loads(s.ask(f"LIST {VOLUME}")[3:])["snapshots"]
    assert [c["name"] for c in copies] == [NAME, other]
    r = s.ask(f"DELETE {VOLUME} {NAME}")
    assert r.startswith("ERR ") and f"the base of '{other}'" in r, r
    assert (root / VOLUME / NAME / "image").exists()
    assert s.ask(f"DELETE {VOLUME} {other}").startswith("OK ")
    assert s.ask(f"DELETE {VOLUME} {NAME}").startswith("OK ")
    assert [e for e in os.listdir(root / VOLUME) if not e.startswith(".")] == []


def test_leftovers_are_removed_and_kinds_do_not_mix(serve, stream):
    s, root = serve
    assert s.ask(f"RECEIVE {VOLUME} {NAME} {info(NAME, 'uuid-a')}", data=stream).startswith("OK")
    s.close()
    # what a cut transfer leaves (serve stages in .incoming.NAME), and a NAME
    # without info.json that serve never makes (it renames a whole copy in)
    (root / VOLUME / ".incoming.test.20261129T000000Z").mkdir()
    (root / VOLUME / ".incoming.test.20261129T000000Z" / "image").write_bytes(b"part")
    half = root / VOLUME / "test.20261130T000000Z"
    half.mkdir()
    (half / "image").write_bytes(b"no info")
    s2 = Serve(root)
    try:
        listed = json.loads(s2.ask(f"LIST {VOLUME}")[3:])["snapshots"]
        assert [c["name"] for c in listed] == [NAME]          # LIST changes nothing
        assert half.exists()
        # a btrfs stream (no "image") into a volume of block copies: refused, read to the end
        btrfs_info = json.loads(info("test.20261201T000000Z", "u"))
        del btrfs_info["image"], btrfs_info["base"]
        r = s2.ask(f"RECEIVE {VOLUME} test.20261201T000000Z {json.dumps(btrfs_info)}",
                   data=b"y" * 5000)
        assert r.startswith("ERR ") and "block copies" in r, r
        assert s2.ask("INFO").startswith("OK ")              # still in step
        # Only what serve staged is removed; the NAME it did not make stays, unlisted.
        assert sorted(os.listdir(root / VOLUME)) == [".block", ".lock", NAME, half.name]
        assert (half / "image").read_bytes() == b"no info"
    finally:
        s2.close()
