#!/usr/bin/python3
"""Helper of bench/compare.sh: makes snapshots fast, in each tool's own layout.

Snapshots are made with the btrfs snapshot ioctl in this one process (no
btrbk, snapper or snaprotate involved), each with the metadata its tool
expects. A layout is described by a small JSON spec file (see compare.sh):

  sr       SNAPDIR/VOL.YYYYMMDDTHHMMSSZ/snapshot + info.json (from a template
           that `snaprotate snapshot` wrote)
  btrbk    SNAPDIR/NAME.YYYYMMDDTHHMM
  snapper  SUBVOL/.snapshots/NUM/snapshot + NUM/info.xml

The k-th snapshot (k = 0, 1, ...) is taken at base + k * step. The names made
are kept in a manifest; `reset` deletes everything else (what a timed command
created) so that every timed run starts from exactly N snapshots.

Usage: compare-helper.py populate SPEC N      (make snapshots 0..N-1 that are missing)
       compare-helper.py reset SPEC           (delete what is not in the manifest)
       compare-helper.py clear SPEC           (delete every snapshot, empty the manifest)
       compare-helper.py count SPEC           (snapshots present in the layout)
       compare-helper.py present SPEC         (their names)
       compare-helper.py paths SPEC PRUNE_JSON  (snapshot paths snaprotate's plan deletes)
       compare-helper.py names SPEC PRUNE_JSON  (names it keeps)
       compare-helper.py settle MNT           (wait for the btrfs cleaner)
       compare-helper.py report RESULTS RUNS  (the markdown tables)
"""
import fcntl
import json
import os
import statistics
import struct
import subprocess
import sys
import time
import uuid

BTRFS_IOC_SNAP_CREATE_V2 = 0x50009417  # _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2)
BTRFS_IOC_SNAP_DESTROY = 0x5000940F  # _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
BTRFS_IOC_GET_SUBVOL_INFO = 0x81F8943C  # _IOR(0x94, 60, struct btrfs_ioctl_get_subvol_info_args)
BTRFS_IOC_SYNC = 0x9408  # _IO(0x94, 8): commits, and wakes the cleaner
BTRFS_SUBVOL_RDONLY = 1 << 1


def snap_create(srcfd, dstdir, name):
    dfd = os.open(dstdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        args = bytearray(struct.pack("=qQQ32s4040s", srcfd, 0, BTRFS_SUBVOL_RDONLY, b"",
                                     name.encode()))
        fcntl.ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, args)
    finally:
        os.close(dfd)


def snap_destroy(parent, name):
    dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        args = bytearray(struct.pack("=q4088s", 0, name.encode()))
        fcntl.ioctl(dfd, BTRFS_IOC_SNAP_DESTROY, args)
    finally:
        os.close(dfd)


def subvol_uuids(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = bytearray(504)
        fcntl.ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, buf)
    finally:
        os.close(fd)
    return str(uuid.UUID(bytes=bytes(buf[296:312]))), str(uuid.UUID(bytes=bytes(buf[312:328])))


def is_subvol(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return st.st_ino == 256 and (st.st_mode & 0o170000) == 0o040000


def load(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    spec["_path"] = spec_path
    return spec


def manifest_read(spec):
    try:
        with open(spec["manifest"]) as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


def manifest_write(spec, names):
    tmp = spec["manifest"] + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(n + "\n" for n in names))
    os.rename(tmp, spec["manifest"])


def name_of(spec, k):
    t = spec["base"] + k * spec.get("step", 3600)
    layout = spec["layout"]
    if layout == "sr":
        return spec["vol"] + "." + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    if layout == "btrbk":
        return spec["name"] + "." + time.strftime("%Y%m%dT%H%M", time.gmtime(t))
    if layout == "snapper":
        return str(k + 1)
    raise SystemExit("unknown layout " + layout)


def populate(spec, n):
    have = manifest_read(spec)
    have_set = set(have)
    layout = spec["layout"]
    snapdir = spec["snapdir"]
    os.makedirs(snapdir, mode=0o700, exist_ok=True)
    srcfd = os.open(spec["src"], os.O_RDONLY | os.O_DIRECTORY)
    template = None
    if layout == "sr":
        with open(spec["template"]) as f:
            template = json.load(f)
    made = 0
    deadline = float(os.environ.get("POPULATE_DEADLINE", "0"))
    try:
        for k in range(n):
            if deadline and time.time() > deadline:
                print(f"{layout}: populate deadline reached after {made} new snapshots",
                      file=sys.stderr)
                break
            name = name_of(spec, k)
            if name in have_set:
                continue
            t = spec["base"] + k * spec.get("step", 3600)
            if layout == "btrbk":
                snap_create(srcfd, snapdir, name)
            else:
                d = os.path.join(snapdir, name)
                os.mkdir(d, 0o700 if layout == "sr" else 0o755)
                snap_create(srcfd, d, "snapshot")
                if layout == "sr":
                    u, pu = subvol_uuids(os.path.join(d, "snapshot"))
                    info = dict(template)
                    info.update(name=name, created=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                 time.gmtime(t)),
                                kind="timeline", uuid=u, parent_uuid=pu, description="",
                                pinned=False, pre=None, sent_to={})
                    with open(os.path.join(d, "info.json"), "w") as f:
                        json.dump(info, f, indent=2)
                        f.write("\n")
                else:
                    with open(os.path.join(d, "info.xml"), "w") as f:
                        f.write('<?xml version="1.0"?>\n<snapshot>\n  <type>single</type>\n'
                                f"  <num>{k + 1}</num>\n"
                                f"  <date>{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t))}</date>\n"
                                "  <description>timeline</description>\n"
                                "  <cleanup>timeline</cleanup>\n</snapshot>\n")
            have.append(name)
            have_set.add(name)
            made += 1
            if made % 1000 == 0:
                manifest_write(spec, have)
    finally:
        os.close(srcfd)
        manifest_write(spec, have)
    subprocess.run(["sync", "-f", snapdir], check=True)
    return made


def entries(spec):
    try:
        return sorted(os.listdir(spec["snapdir"]))
    except FileNotFoundError:
        return []


def delete_entry(spec, name):
    """Deletes one snapshot in the tool's layout (metadata, subvolume, directory)."""
    snapdir = spec["snapdir"]
    if spec["layout"] == "btrbk":
        p = os.path.join(snapdir, name)
        if is_subvol(p):
            snap_destroy(snapdir, name)
        return
    d = os.path.join(snapdir, name)
    if not os.path.isdir(d):
        os.unlink(d)
        return
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if is_subvol(p):
            snap_destroy(d, f)
        elif os.path.isdir(p):
            os.rmdir(p)
        else:
            os.unlink(p)
    os.rmdir(d)


def present(spec):
    """Names in the layout whose snapshot subvolume exists."""
    out = []
    for name in entries(spec):
        if spec["layout"] == "btrbk":
            ok = is_subvol(os.path.join(spec["snapdir"], name))
        else:
            ok = is_subvol(os.path.join(spec["snapdir"], name, "snapshot"))
        if ok:
            out.append(name)
    return out


def reset(spec, keep=None):
    if keep is None:
        keep = set(manifest_read(spec))
    gone = 0
    for name in entries(spec):
        if name in keep:
            continue
        if spec["layout"] == "snapper" and not name.isdigit():
            continue
        delete_entry(spec, name)
        gone += 1
    raw = spec.get("rawdir")
    if raw and os.path.isdir(raw):
        for name in os.listdir(raw):
            snap_destroy(raw, name)
            gone += 1
    if gone:
        settle(spec["mnt"])
    return gone


def settle(mnt, timeout=300):
    """Waits until the btrfs cleaner has dropped every deleted subvolume.

    Without a commit the cleaner only wakes at the next periodic commit (30 s),
    and `btrfs subvolume sync` polls once a second: commit, then poll often.
    """
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        end = time.monotonic() + timeout
        while True:
            fcntl.ioctl(fd, BTRFS_IOC_SYNC)
            out = subprocess.run(["btrfs", "subvolume", "list", "-d", mnt], check=True,
                                 capture_output=True, text=True).stdout
            if not out.strip():
                return
            if time.monotonic() > end:
                raise SystemExit(f"{mnt}: the btrfs cleaner did not finish in {timeout} s")
            time.sleep(0.02)
    finally:
        os.close(fd)


def run_timed(argv):
    """Wall time (ms) of one run of @argv, stdout and stderr to /dev/null."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        t = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, null, 1),
                                            (os.POSIX_SPAWN_DUP2, null, 2)])
        _, status = os.waitpid(pid, 0)
        ms = (time.perf_counter() - t) * 1000
    finally:
        os.close(null)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]}: exit {os.waitstatus_to_exitcode(status)}")
    return ms


def paired(spec, pairs, a, b):
    """A and B alternately (A B, B A, ...), each from the same state: load that
    comes and goes hits both alike, and the median of the B/A ratios of each
    pair is far steadier than a ratio of two separate medians on a busy machine."""
    ta, tb, ratios = [], [], []
    for i in range(pairs + 1):
        order = (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a))
        got = {}
        for key, argv in order:
            reset(spec)
            got[key] = run_timed(argv)
        if i == 0:
            continue  # warm-up pair
        ta.append(got["a"])
        tb.append(got["b"])
        ratios.append(got["b"] / got["a"])
    reset(spec)

    def q(v, f):
        v = sorted(v)
        return v[min(len(v) - 1, int(f * len(v)))]
    return (statistics.median(ta), statistics.median(tb), statistics.median(ratios),
            q(ratios, 0.25), q(ratios, 0.75))


def plan_sets(prune_json):
    with open(prune_json) as f:
        doc = json.load(f)
    dele, keep = [], []
    for vol in doc["volumes"]:
        for d in vol["decisions"]:
            (dele if d["action"] == "delete" else keep).append(d["name"])
    return dele, keep


def report(results_path, runs):
    """Markdown tables from the results file compare.sh writes."""
    rows = {}
    with open(results_path) as f:
        for line in f:
            sec, n, tool, status, med, mn, mx, rss, note = line.rstrip("\n").split("\t")
            rows[(sec, n, tool)] = dict(status=status, med=float(med or 0), min=float(mn or 0),
                                        max=float(mx or 0), rss=int(rss or 0), note=note)

    def fmt_ms(v):
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"

    def cell(sec, n, tool):
        r = rows.get((sec, n, tool))
        if r is None:
            return "–"
        if r["status"] != "ok":
            return f"{r['status']}: {r['note']}" if r["note"] else r["status"]
        return f"{fmt_ms(r['med'])} ({fmt_ms(r['min'])}–{fmt_ms(r['max'])})"

    def med(sec, n, tool):
        r = rows.get((sec, n, tool))
        return r["med"] if r and r["status"] == "ok" else None

    def mib(sec, n, tool):
        r = rows.get((sec, n, tool))
        return f"{r['rss'] / 1024:.1f}" if r and r["status"] == "ok" and r["rss"] else "–"

    sizes = sorted({int(k[1]) for k in rows if k[0] in ("snapshot", "list", "run")})
    out = []
    for sec, title in (("snapshot", "snapshot"), ("list", "list"),
                       ("run", "run (snapshot + retention; nothing to delete)")):
        out.append(f"#### {title}: ms, median (min–max) of {runs} runs\n")
        out.append("| N | raw btrfs-progs | snaprotate | btrbk | snapper | snaprotate / raw |")
        out.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in map(str, sizes):
            s_ = med(sec, n, "snaprotate")
            if sec == "run":
                a, b = med("snapshot", n, "raw"), med("list", n, "raw")
                raw_cell = f"{fmt_ms(a + b)} (snapshot + list)" if a and b else "–"
                r_ = a + b if a and b else None
            else:
                raw_cell, r_ = cell(sec, n, "raw"), med(sec, n, "raw")
            ratio = f"{s_ / r_:.2f}×" if s_ and r_ else "–"
            out.append(f"| {int(n):,} | {raw_cell} | {cell(sec, n, 'snaprotate')} | "
                       f"{cell(sec, n, 'btrbk')} | {cell(sec, n, 'snapper')} | {ratio} |")
        out.append("")
    for sec in ("snapshot", "list"):
        keys = sorted((int(k[1]), k) for k in rows if k[0] == "pair-" + sec)
        if not keys:
            continue
        r0 = rows[keys[0][1]]
        out.append(f"#### {sec}, snaprotate and raw alternating from the same state "
                   f"({r0['note'].split()[2]} pairs): ms, median\n")
        out.append("| N | raw btrfs-progs | snaprotate | snaprotate / raw, median of the pairs "
                   "(interquartile range) |")
        out.append("| ---: | ---: | ---: | ---: |")
        for n, k in keys:
            r = rows[k]
            ma, mb, _ = r["note"].split()
            out.append(f"| {n:,} | {fmt_ms(float(ma))} | {fmt_ms(float(mb))} | "
                       f"{r['med']:.2f}× ({r['min']:.2f}–{r['max']:.2f}) |")
        out.append("")
    out.append("#### Peak RSS, MiB (one extra run of each command under GNU time)\n")
    out.append("| N | raw snapshot | raw list | snaprotate snapshot | snaprotate list | "
               "snaprotate run | btrbk snapshot / list / run | snapper snapshot / list / run |")
    out.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in map(str, sizes):
        out.append(f"| {int(n):,} | {mib('snapshot', n, 'raw')} | {mib('list', n, 'raw')} | "
                   f"{mib('snapshot', n, 'snaprotate')} | {mib('list', n, 'snaprotate')} | "
                   f"{mib('run', n, 'snaprotate')} | "
                   + " / ".join(mib(s, n, "btrbk") for s in ("snapshot", "list", "run")) + " | "
                   + " / ".join(mib(s, n, "snapper") for s in ("snapshot", "list", "run")) + " |")
    out.append("")
    prune = sorted({k[1] for k in rows if k[0] == "prune"})
    for n in prune:
        out.append(f"#### prune {int(n):,} hourly snapshots to daily=7 weekly=4 monthly=6: "
                   f"ms, median (min–max) of {runs} runs\n")
        out.append("| tool | time | peak RSS (MiB) | snapshots left after each run | × raw delete |")
        out.append("| --- | ---: | ---: | --- | ---: |")
        raw = med("prune", n, "raw")
        for tool, label in (("raw", "raw `btrfs subvolume delete` of snaprotate's set, one process"),
                            ("snaprotate0", "snaprotate prune, delete_batch = 0 (pacing off)"),
                            ("snaprotate8", "snaprotate prune, delete_batch = 8 (default)"),
                            ("btrbk", "btrbk prune"), ("snapper", "snapper cleanup timeline")):
            r = rows.get(("prune", n, tool))
            if r is None:
                continue
            m = med("prune", n, tool)
            ratio = f"{m / raw:.1f}×" if m and raw else "–"
            note = r["note"] if r["status"] == "ok" else ""
            out.append(f"| {label} | {cell('prune', n, tool)} | {mib('prune', n, tool)} | "
                       f"{note} | {ratio} |")
        out.append("")
    # Targets (docs: shared notes, performance anchors).
    out.append("#### snaprotate against its targets (ratios from this run)\n")
    out.append("| target | measured | met |")
    out.append("| --- | --- | --- |")

    def target(label, value, limit, unit="×"):
        if value is None:
            out.append(f"| {label} | not measured | – |")
        else:
            out.append(f"| {label} | {value:.2f}{unit} | {'yes' if value <= limit else '**no**'} |")
    def ratio(sec, n):
        p = rows.get(("pair-" + sec, n, "ratio"))
        if p and p["status"] == "ok":
            return p["med"], " (paired)"
        s_, r_ = med(sec, n, "snaprotate"), med(sec, n, "raw")
        return (s_ / r_ if s_ and r_ else None), ""
    for n in map(str, sizes):
        v, how = ratio("snapshot", n)
        target(f"snapshot ≤ 1.3× raw, N={int(n):,}{how}", v, 1.3)
    v, how = ratio("list", "1000")
    target(f"list ≤ 2× raw, N=1,000{how}", v, 2.0)
    target("list < 100 ms, N=10,000", med("list", "10000", "snaprotate"), 100, " ms")
    if prune:
        n = prune[0]
        s_, r_ = med("prune", n, "snaprotate0"), med("prune", n, "raw")
        target(f"prune {int(n):,} → ~12 ≤ 3× raw delete (pacing off)",
               s_ / r_ if s_ and r_ else None, 3.0)
    peak = [rows[k]["rss"] for k in rows
            if k[1] == "1000" and k[2].startswith("snaprotate") and rows[k]["status"] == "ok"]
    target("peak RSS ≤ 5 MiB at N=1,000 (snapshot, list, run, prune)",
           max(peak) / 1024 if peak else None, 5.0, " MiB")
    out.append("")
    print("\n".join(out))


def main():
    if sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1] == "settle":
        settle(sys.argv[2])
        return
    cmd, spec = sys.argv[1], load(sys.argv[2])
    if cmd == "populate":
        n = int(sys.argv[3])
        t = time.monotonic()
        made = populate(spec, n)
        print(f"{spec['layout']}: made {made} snapshots in {time.monotonic() - t:.1f} s",
              file=sys.stderr)
    elif cmd == "reset":
        reset(spec)
    elif cmd == "clear":
        reset(spec, keep=set())
        manifest_write(spec, [])
    elif cmd == "paired":
        # paired SPEC SECTION N PAIRS CMD_A... ::: CMD_B...  -> result lines
        sec, n, pairs = sys.argv[3], sys.argv[4], int(sys.argv[5])
        rest = sys.argv[6:]
        cut = rest.index(":::")
        ma, mb, r, lo, hi = paired(spec, pairs, rest[:cut], rest[cut + 1:])
        print(f"pair-{sec}\t{n}\tratio\tok\t{r:.4f}\t{lo:.4f}\t{hi:.4f}\t\t"
              f"{ma:.2f} {mb:.2f} {pairs}")
    elif cmd == "count":
        print(len(present(spec)))
    elif cmd == "present":
        for name in sorted(present(spec)):
            print(name)
    elif cmd == "paths":
        dele, _ = plan_sets(sys.argv[3])
        for name in dele:
            print(os.path.join(spec["snapdir"], name, "snapshot"))
    elif cmd == "names":
        _, keep = plan_sets(sys.argv[3])
        for name in sorted(keep):
            print(name)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
