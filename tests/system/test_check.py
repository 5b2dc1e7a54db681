"""check (SPEC 4): every condition forced on real btrfs with --now, checked for the
exit code, the status line and the perfdata (parsed with the Nagios plugin
guidelines' grammar); the Prometheus output validated by promtool and its values
checked; the textfile written atomically; one unreadable volume among three; a
target on an unmounted loop filesystem; status telling the same truth."""
import json
import os
import re
import subprocess
import threading

import pytest

from conftest import BINARY, PROMTOOL, ROOT, Btrfs, run
from test_send import configure, sshd, target_fs  # noqa: F401 (fixtures)

H = 3600
T0 = "2026-12-01T10:00:00Z"

# The plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
NUM = r"-?[0-9]+(?:\.[0-9]+)?"
RANGE = rf"@?(?:(?:{NUM}|~):)?(?:{NUM})?"
PERF = re.compile(rf"^(?:'[^'=]+'|[^'= ]+)=(U|{NUM})(s|us|ms|%|B|KB|MB|TB|c)?"
                  rf"(?:;(?:{RANGE})?(?:;(?:{RANGE})?(?:;(?:{NUM})?(?:;(?:{NUM})?)?)?)?)?$")


def at(hours):
    """T0 plus @hours, as --now takes it."""
    base = 1796119200    # 2026-12-01T10:00:00Z
    t = int(base + hours * H)
    return run("date", "-u", "-d", f"@{t}", "+%Y-%m-%dT%H:%M:%SZ").stdout.strip()


def plugin(r):
    """(state word, summary, perfdata as {label: (value, uom, warn, crit)}, long lines)."""
    lines = r.stdout.splitlines()
    assert lines, r
    first, _, perf = lines[0].partition(" | ")
    m = re.match(r"^SNAPROTATE (OK|WARNING|CRITICAL|UNKNOWN) - (.*)$", first)
    assert m, first
    data = {}
    for item in re.findall(r"'[^']*'=\S*|\S+", perf):
        assert PERF.match(item), f"perfdata item not in the guidelines' grammar: {item!r}"
        label, _, rest = item.partition("=")
        fields = rest.split(";")
        v = re.match(rf"^(U|{NUM})(.*)$", fields[0])
        data[label.strip("'")] = (v.group(1), v.group(2), *(fields[1:3] + ["", ""])[:2])
    assert "|" not in "\n".join(lines[1:]), "a '|' in the long output starts perfdata"
    code = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[m.group(1)]
    assert r.returncode == code, (r.returncode, r.stdout)
    return m.group(1), m.group(2), data, lines[1:]


def check(env, *args, now):
    return plugin(env.run("check", *args, "--now", now))


def metrics(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    val = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            val[k] = float(v)
    return val


def test_fresh_is_ok_with_perfdata(env):
    env.write_config(extra_volume="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    state, summary, perf, long = check(env, now=at(0.5))
    assert state == "OK" and summary.startswith("1 volume fresh: data 30m"), summary
    assert perf["data age"] == ("1800", "s", "6300", "9000")       # 1h45 warn, 2h30 crit
    assert perf["data snapshots"][0] == "1" and perf["data broken"][0] == "0"
    assert perf["data free"][1] == "B" and int(perf["data free"][0]) > 0
    assert perf["data last run"][1] == "s"
    assert long == []
    doc = json.loads(env.run("check", "--json", "--now", at(0.5)).stdout)
    assert doc["state"] == "OK" and doc["exit"] == 0 and doc["summary"].startswith("SNAPROTATE OK")


def test_age_of_the_newest_timeline_snapshot_against_rpo(env):
    env.write_config(extra_volume="retain = hourly=24\nrpo = 2h\n")
    env.ok("run", "--now", T0)
    assert check(env, now=at(1.4))[0] == "OK"
    state, summary, perf, long = check(env, now=at(1.5))
    assert state == "WARNING" and "newest timeline snapshot data.20261201T100000Z is 1h 30m old" \
        in summary, summary
    assert perf["data age"] == ("5400", "s", "5400", "7200")
    state, summary, _, long = check(env, now=at(2))
    assert state == "CRITICAL" and "(rpo at 2h 0m)" in summary, summary
    assert long == ["CRITICAL data: " + summary.split("data: ", 1)[1]]
    # -w and -c replace the limits; after `check`, -c is the critical age, not the config.
    state, _, perf, _ = check(env, "-w", "3h", "-c", "4h", now=at(2))
    assert state == "OK" and perf["data age"][2:] == ("10800", "14400")
    assert check(env, "--warning", "1h", "--critical", "5h", now=at(2))[0] == "WARNING"


def test_a_manual_snapshot_does_not_hide_a_dead_timer(env):
    env.write_config(extra_volume="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    env.ok("snapshot", "data", "--now", at(47))
    state, summary, _, _ = check(env, now=at(48))
    assert state == "CRITICAL" and "newest timeline snapshot data.20261201T100000Z is 2d 0h old" \
        in summary, summary
    r = env.run("status", "--now", at(48))
    assert r.returncode == 1
    assert r.stdout.startswith("data: newest timeline data.20261201T100000Z (2d 0h ago)")
    assert "newest of any kind data.20261203T090000Z (manual, 1h 0m ago)" in r.stdout, r.stdout


def test_no_timeline_snapshot_at_all_is_critical(env):
    state, summary, perf, _ = check(env, now=T0)
    assert state == "CRITICAL" and summary == "data: no timeline snapshot yet", summary
    assert perf["data age"][0] == "U"


def test_a_failed_run_is_critical_with_its_error(env, tmp_path):
    hook = tmp_path / "hook"
    hook.write_text("#!/bin/sh\necho the database said no >&2\nexit 7\n")
    hook.chmod(0o755)
    env.write_config(extra_volume=f"retain = hourly=24\npre_hook = {hook}\n")
    r = env.run("run", "--now", T0)
    assert r.returncode == 1
    state, summary, _, long = check(env, now=at(0.1))
    assert state == "CRITICAL" and "data: last run (2026-12-01T10:00:00Z) failed: " in summary
    assert f"failed: no snapshot: pre hook '{hook}' failed with exit status 7: the database " \
           "said no" in summary, summary
    st = env.run("status", "--now", at(0.1))
    assert st.returncode == 1 and "last run 2026-12-01T10:00:00Z FAILED" in st.stdout
    assert "CRITICAL: last run (2026-12-01T10:00:00Z) failed:" in st.stdout, st.stdout
    doc = json.loads(env.run("status", "--json", "--now", at(0.1)).stdout)["volumes"][0]
    assert doc["last_run"]["success"] is False and doc["last_run"]["error"], doc


def test_incomplete_and_stale_entries_are_warnings(env):
    env.write_config(extra_volume="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    old = env.ok("snapshot", "data", "--now", at(-5)).stdout.strip()
    # an interrupted snapshot: the subvolume, no info.json
    cut = env.snapdir / "data.20261201T080000Z"
    cut.mkdir()
    run("btrfs", "subvolume", "snapshot", "-r", env.data, cut / "snapshot")
    # a stale copy: info.json with an empty plain directory where the snapshot was
    run("btrfs", "subvolume", "delete", env.snapdir / old / "snapshot")
    (env.snapdir / old / "snapshot").mkdir()
    state, summary, perf, long = check(env, now=at(0.5))
    assert state == "WARNING", summary
    assert "WARNING data: 1 incomplete snapshot (an interrupted operation;" in long[0] + long[1]
    assert any(x.startswith("WARNING data: 1 stale entry") for x in long), long
    assert perf["data broken"][0] == "2"
    val = metrics(env.ok("check", "--prometheus", "--now", at(0.5)).stdout)
    assert val['snaprotate_broken_snapshots{volume="data",state="incomplete"}'] == 1
    assert val['snaprotate_broken_snapshots{volume="data",state="stale"}'] == 1


def test_min_free_reached_is_critical(env):
    env.write_config(extra_volume="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    env.write_config(extra_volume="retain = hourly=24\nmin_free = 99%\n")
    state, summary, _, _ = check(env, now=at(0.2))
    assert state == "CRITICAL" and "no room for a new snapshot:" in summary, summary


def test_a_package_pre_without_post_for_a_day(env):
    env.write_config(extra_volume="retain = hourly=24\npkg_snapshots = yes\n")
    env.ok("run", "--now", T0)
    r = env.run("pkg-pre", "--tool", "apt", "--now", at(0.5),
                input="VERSION 3\nAPT::Architecture=amd64\n\np - - none < 1.0-1 all none /x/p.deb\n")
    assert r.returncode == 0 and "data: pre data.20261201T103000Z" in r.stdout, r
    assert check(env, "-w", "29h", "-c", "30h", now=at(12))[0] == "OK"
    state, summary, _, _ = check(env, "-w", "29h", "-c", "30h", now=at(24.5))
    assert state == "WARNING" and "package pre data.20261201T103000Z has had no post for 1d 0h" \
        in summary, summary


def test_future_timestamps_are_reported_never_trusted(env):
    env.write_config(extra_volume="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    env.ok("snapshot", "--kind", "timeline", "data", "--now", "2027-06-01T00:00:00Z")
    state, summary, perf, long = check(env, now=at(3))
    assert state == "CRITICAL" and "newest timeline snapshot data.20261201T100000Z" in summary
    assert "WARNING data: 1 snapshot dated in the future (is the clock right?)" in long[-1], long
    assert perf["data age"][0] == str(3 * H)


def test_target_copy_age_and_an_unplugged_disk(env, tmp_path):
    (tmp_path / "usbfs").mkdir()
    usb = Btrfs(tmp_path / "usbfs")
    try:
        (usb.mnt / "sr").mkdir()
        env.write_config(extra_volume="retain = hourly=24\ntargets = usb\n",
                         extra=f"[target usb]\nurl = file://{usb.mnt}/sr\n"
                               f"require_mount = {usb.mnt}\nrpo = 3h\n")
        env.ok("run", "--now", T0)
        state, _, perf, _ = check(env, now=at(0.5))
        assert state == "OK" and perf["data usb age"] == ("1800", "s", "7200", "10800")
        run("umount", usb.mnt)
        usb.mounted = False
        # Unplugged: the run takes its snapshot, warns, exits 0 within the target's rpo.
        r = env.run("run", "--now", at(1))
        assert r.returncode == 0, r.stderr
        assert f"target 'usb' is offline: '{usb.mnt}' is not mounted" in r.stderr, r.stderr
        assert "within the target's rpo of 3h 0m: not a failure yet" in r.stderr
        assert not (usb.mnt / "sr").exists() and os.listdir(usb.mnt) == []
        assert len(env.names()) == 2
        state, summary, perf, long = check(env, now=at(1.2))
        assert state == "WARNING" and "target usb was offline at the last run" in summary
        val = metrics(env.ok("check", "--prometheus", "--now", at(1.2)).stdout)
        assert val['snaprotate_target_reachable{volume="data",target="usb"}'] == 0
        assert val['snaprotate_target_newest_copy_timestamp_seconds{volume="data",target="usb"}'] \
            == 1796119200
        # Past its rpo the run fails, and check is CRITICAL.
        r = env.run("run", "--now", at(3))
        assert r.returncode == 1 and "past the target's rpo of 3h 0m" in r.stderr, r.stderr
        state, summary, _, long = check(env, now=at(3))
        assert state == "CRITICAL"
        assert "CRITICAL data: target usb: newest copy data.20261201T100000Z is 3h 0m old " \
               "(rpo at 3h 0m)" in long, long
        run("mount", usb.loop, usb.mnt)
        usb.mounted = True
        env.ok("run", "--now", at(4))
        assert check(env, now=at(4.1))[0] == "OK"
    finally:
        usb.close()


def test_an_ssh_host_that_does_not_answer(env, target_fs, sshd):
    configure(env, target_fs, sshd, src_retain="retain = hourly=24\n",
              tgt_retain="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    sshd.stop()
    r = env.run("run", "--now", at(1))
    assert r.returncode == 0, r.stderr
    assert "target 'nas' could not be reached: ssh to 127.0.0.1 failed" in r.stderr, r.stderr
    assert "within the target's rpo of 2h 30m: not a failure yet" in r.stderr, r.stderr
    assert len(env.names()) == 2
    state, summary, perf, _ = check(env, now=at(1.1))
    assert state == "WARNING" and "target nas was offline at the last run" in summary, summary
    assert perf["data nas age"][0] == str(int(1.1 * H))
    r = env.run("run", "--now", at(2.5))
    assert r.returncode == 1 and "past the target's rpo of 2h 30m" in r.stderr, r.stderr
    assert check(env, now=at(2.5))[0] == "CRITICAL"


def test_one_unmounted_volume_among_three(btrfs, tmp_path, env):
    """Volume b is a subvolume mounted on its own (as /home often is); unmounted, its
    path is an empty directory of another filesystem. The others are still shown."""
    btrfs.subvolume("c")
    btrfs.subvolume("b")
    bmnt = tmp_path / "bmnt"
    bmnt.mkdir()
    run("mount", "-o", "subvol=b", btrfs.loop, bmnt)
    try:
        env.write_config(extra_volume="retain = hourly=24\n",
                         extra=f"[volume b]\nbackend = btrfs\npath = {bmnt}\n"
                               f"snapshot_dir = {bmnt}/.snapshots\nretain = hourly=24\n\n"
                               f"[volume c]\nbackend = btrfs\npath = {btrfs.mnt / 'c'}\n"
                               "retain = hourly=24\n")
        env.ok("run", "--now", T0)
    finally:
        run("umount", bmnt)
    r = env.run("list")
    assert r.returncode == 1
    assert "data (btrfs" in r.stdout and "c (btrfs" in r.stdout, r.stdout
    assert "b: CANNOT BE READ: " in r.stdout and "not btrfs" in r.stdout, r.stdout
    doc = json.loads(env.run("list", "--json").stdout)
    by = {v["volume"]: v for v in doc["volumes"]}
    assert "not btrfs" in by["b"]["error"] and len(by["c"]["snapshots"]) == 1
    assert by["b"]["snapshots"] == []
    r = env.run("status", "--now", at(0.5))
    assert r.returncode == 1
    assert r.stdout.count("newest timeline") == 2 and "b: CANNOT BE READ:" in r.stdout
    doc = json.loads(env.run("status", "--json", "--now", at(0.5)).stdout)
    by = {v["volume"]: v for v in doc["volumes"]}
    assert "not btrfs" in by["b"]["error"] and by["b"]["state"] == "CRITICAL"
    assert by["c"]["state"] == "OK" and by["c"]["count"] == 1
    state, summary, perf, _ = check(env, now=at(0.5))
    assert state == "CRITICAL" and summary.startswith("b: cannot be read: "), summary
    assert "data age" in perf and "c age" in perf and "b age" not in perf
    val = metrics(env.ok("check", "--prometheus", "--now", at(0.5)).stdout)
    assert val['snaprotate_volume_readable{volume="b"}'] == 0
    assert val['snaprotate_volume_readable{volume="c"}'] == 1
    assert val['snaprotate_check_state{volume="b"}'] == 2
    assert val['snaprotate_last_run_success{volume="b"}'] == 1    # the run before it went
    # The run goes on for the others, and fails for b alone.
    r = env.run("run", "--now", at(1))
    assert r.returncode == 1 and "run failed for 1 volume: b" in r.stderr, r.stderr
    assert len(env.names("c")) == 2


def test_prometheus_values_and_the_atomic_textfile(env, tmp_path):
    env.write_config(extra_volume="retain = hourly=24\n")
    env.ok("run", "--now", T0)
    env.ok("snapshot", "data", "--now", at(0.2))
    text = env.ok("check", "--prometheus", "--now", at(0.5)).stdout
    val = metrics(text)
    assert val['snaprotate_newest_snapshot_timestamp_seconds{volume="data"}'] == 1796119200
    assert val['snaprotate_snapshots{volume="data",kind="timeline"}'] == 1
    assert val['snaprotate_snapshots{volume="data",kind="manual"}'] == 1
    assert val['snaprotate_last_run_success{volume="data"}'] == 1
    assert val['snaprotate_rpo_seconds{volume="data"}'] == 9000
    assert val['snaprotate_free_bytes{volume="data"}'] > 0
    assert "# TYPE snaprotate_bytes_sent_total counter" in text
    # --output: mode 0644 whatever the umask; a reader never sees half a file.
    out = tmp_path / "tf" / "snaprotate.prom"
    out.parent.mkdir()
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            try:
                seen.append(out.read_text())
            except FileNotFoundError:
                pass

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(60):
            r = env.run("check", "--prometheus", "--output", str(out), "--now", at(0.5 + i / 60),
                        preexec_fn=lambda: os.umask(0o077))
            assert r.returncode == 0 and r.stdout == "", r
    finally:
        stop.set()
        t.join()
    assert seen, "the reader never saw the file"
    for s in seen:
        assert s.endswith("\n") and len(s.splitlines()) == len(text.splitlines()), s[-200:]
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(out.parent)) == ["snaprotate.prom"]
    r = env.run("check", "--prometheus", "--output", str(tmp_path / "nodir" / "x.prom"))
    assert r.returncode == 3 and "cannot write it" in r.stderr


def test_unknown_for_its_own_trouble(env, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[volume x]\nbackend = zfs\n")
    bad.chmod(0o600)
    r = subprocess.run([BINARY, "-c", bad, "check"], capture_output=True, text=True)
    assert r.returncode == 3 and r.stdout.startswith("SNAPROTATE UNKNOWN - "), r
    assert f"{bad}:2" in r.stdout, r.stdout
    r = env.run("check", "-c", "soon")
    assert r.returncode == 3 and "SNAPROTATE UNKNOWN - -c 'soon'" in r.stdout, r
    r = env.run("check", "--output", "/tmp/x.prom")
    assert r.returncode == 3 and "--output goes with --prometheus" in r.stdout


def test_the_shipped_alerting_rules(tmp_path):
    """pkg/prometheus/snaprotate.rules.yml loads, and fires on the metrics check writes."""
    rules = ROOT / "pkg" / "prometheus" / "snaprotate.rules.yml"
    p = subprocess.run([PROMTOOL, "check", "rules", rules], capture_output=True, text=True)
    assert p.returncode == 0 and "SUCCESS: 6 rules found" in p.stdout, p.stdout + p.stderr
    t = tmp_path / "test.yml"
    t.write_text(f"""\
rule_files: ["{rules}"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'snaprotate_newest_snapshot_timestamp_seconds{{volume="data"}}'
        values: '0+0x300'
      - series: 'snaprotate_rpo_seconds{{volume="data"}}'
        values: '9000+0x300'
      - series: 'snaprotate_last_run_success{{volume="data"}}'
        values: '1+0x100 0+0x200'
    alert_rule_test:
      - eval_time: 2h
        alertname: SnaprotateSnapshotsStale
        exp_alerts: []
      - eval_time: 3h
        alertname: SnaprotateSnapshotsStale
        exp_alerts:
          - exp_labels: {{severity: critical, volume: data}}
            exp_annotations:
              summary: ": no timeline snapshot of data within its rpo"
      - eval_time: 90m
        alertname: SnaprotateRunFailed
        exp_alerts: []
      - eval_time: 2h
        alertname: SnaprotateRunFailed
        exp_alerts:
          - exp_labels: {{severity: critical, volume: data}}
            exp_annotations:
              summary: ": the last run of data failed (snaprotate status says why)"
""")
    p = subprocess.run([PROMTOOL, "test", "rules", t], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
