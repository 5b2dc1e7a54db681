#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/ (committed; run again after a
format changes): small valid inputs of each parser, so that a fuzzer starts
deep instead of at the magic numbers."""
import json
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "system"))
from sendstream import Stream  # noqa: E402

WANT = "11223344-5566-7788-99aa-bbccddeeff00"     # fuzz-sendcheck.c's want_uuid
COPY = "11000000-0000-0000-0000-000000000001"     # a source it accepts (0x11...)
OTHER = "22000000-0000-0000-0000-000000000002"


def put(harness, name, data):
    d = HERE / "corpus" / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def sendcheck():
    put("sendcheck", "full", Stream().subvol(WANT).mkdir("o257-7-0").rename("o257-7-0", "d")
        .mkfile("d/f").write("d/f", b"hello" * 100).chmod("d/f", 0o644)
        .symlink("d/l", "f").set_xattr("d/f", "user.x", b"1").truncate("d/f", 300)
        .link("d/g", "d/f").unlink("d/g").end().bytes())
    put("sendcheck", "incremental", Stream().snapshot(WANT, COPY).mkfile("n")
        .clone("n", COPY, "a/b", 4096).rename("n", "m").end().bytes())
    put("sendcheck", "refused-parent", Stream().snapshot(WANT, OTHER).end().bytes())
    put("sendcheck", "dotdot", Stream().subvol(WANT).mkfile("../x").end().bytes())
    put("sendcheck", "v2", Stream(version=2).subvol(WANT).end().bytes())


def info():
    base = {"format": 1, "volume": "v", "name": "v.20261127T090512Z",
            "created": "2026-11-27T09:05:12Z", "kind": "timeline", "description": "",
            "pinned": False, "pre": None, "uuid": "bd12c281-2c42-0d42-97de-30e5811aeccf",
            "parent_uuid": "401329b7-09aa-ac46-889a-fd730187868a",
            "creator": "snaprotate 0.1.0", "sent_to": {"usb": "2026-11-27T09:06:00Z"},
            "source": "@home"}
    put("info", "timeline", json.dumps(base, indent=2))
    put("info", "post", json.dumps(dict(base, kind="post", pre="v.20261127T090500Z",
                                        description="apt: upgrade a b c", pinned=True)))
    put("info", "copy", json.dumps(dict(base, image="delta", base="v.20261126T090512Z",
                                        sent_to={})))


def config():
    put("config", "example", (ROOT / "rotate.conf.example").read_text())
    put("config", "check", (ROOT / "tests" / "data" / "config-check.conf").read_text())
    put("config", "small", "[global]\nhook_timeout = 60s\n\n[volume root]\nbackend = btrfs\n"
        "path = /\nsnapshot_dir = /.snapshots\nretain = hourly=24 daily=7\ntargets = nas\n"
        "rpo = 2h\n\n[volume data]\nbackend = lvm\nlv = vg0/data\nsnapshot_size = 20%ORIGIN\n\n"
        "[group db]\nvolumes = data\nfreeze = yes\n\n[target nas]\n"
        "url = ssh://u@nas:2222/srv/sr\nretain = daily=30\nrequire_mount = no\n")


def names():
    for i, s in enumerate(["v.20261127T090512Z", "v.20261127T090512Z.2", "2026-11-27T09:05:12Z",
                           "90m", "hourly=24 daily=7 weekly=4 monthly=6 yearly=1", "vg0/data"]):
        put("names", f"n{i}", s)


def blockstream():
    # Real streams come from blockstream-tool (tests/tools); a header alone seeds the reader.
    tool = ROOT / "build" / "tests" / "blockstream-tool"
    if tool.exists():
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as t:
            dev = Path(t) / "dev"
            dev.write_bytes(os.urandom(8192) + bytes(65536) + b"x" * 4096)
            out = Path(t) / "s"
            subprocess.run([tool, "full", dev, out, "test.20261127T090512Z", WANT],
                           check=True, capture_output=True)
            if out.exists():
                put("blockstream", "full", out.read_bytes())
    put("blockstream", "magic", b"SNAPROTATE-BLOCKS\0" + bytes(200))


def thindelta():
    put("thindelta", "delta", """<superblock uuid="" time="1" transaction="2" data_block_size="128" nr_data_blocks="0">
  <diff left="1" right="2">
    <different begin="0" length="4"/>
    <right_only begin="10" length="2"/>
    <left_only begin="20" length="1"/>
    <same begin="30" length="8"/>
  </diff>
</superblock>
""")


def serve():
    s = Stream().subvol(WANT).end().bytes()
    put("serve", "session", b"INFO\nLIST v\nDELETE v v.20261127T090512Z\n"
        b"FETCH v v.20261127T090512Z\nRECEIVE v v.20261127T090512Z {}\nDATA 0\nQUIT\n")
    put("serve", "receive", b"RECEIVE v v.20261127T090512Z " +
        json.dumps({"format": 1, "volume": "v", "name": "v.20261127T090512Z",
                    "created": "2026-11-27T09:05:12Z", "kind": "timeline",
                    "description": "", "pinned": False, "pre": None, "uuid": WANT}).encode() +
        b"\nDATA " + str(len(s)).encode() + b"\n" + s + b"DATA 0\nLIST v\nQUIT\n")


for f in (sendcheck, info, config, names, blockstream, thindelta, serve):
    f()
