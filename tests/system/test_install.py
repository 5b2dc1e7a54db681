"""What `make install` puts on a machine beside the binary, checked with the tools that
read it: systemd-analyze on the units and the timer's calendar, croniter on the cron
file, man on the pages (kept in step with --help and with the keys the parser knows),
bash on the completion, and the Debian package built, linted and installed in a
throwaway root."""
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import BINARY, PROMTOOL, ROOT, run
from pkgroot import PkgRoot
from test_pkg_apt import build_deb


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install with PREFIX in a scratch tree, so that ExecStart= paths exist."""
    d = tmp_path_factory.mktemp("install")
    run("make", "-s", "-C", ROOT, "install", f"PREFIX={d}/usr", f"SYSCONFDIR={d}/etc",
        f"LOCALSTATEDIR={d}/var")
    return d


def test_units_verify(installed):
    units = installed / "usr/lib/systemd/system"
    boot = installed / "snaprotate-boot@root.service"
    shutil.copy(units / "snaprotate-boot@.service", boot)
    for u in units.glob("*.service"):
        assert str(installed / "usr/sbin/snaprotate") in u.read_text(), u
    env = dict(os.environ, MANPATH=f"{installed}/usr/share/man:")
    r = subprocess.run(["systemd-analyze", "verify", units / "snaprotate.service",
                        units / "snaprotate.timer", boot], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_the_service_leaves_metrics_for_node_exporter(installed, env, tmp_path):
    """ExecStopPost (after every run, failed or not) writes the textfile when
    node_exporter's directory exists, and does nothing when it does not."""
    text = (installed / "usr/lib/systemd/system/snaprotate.service").read_text()
    line = re.search(r"^ExecStopPost=-(.*)$", text, re.M).group(1)
    argv = shlex.split(line.replace("$$", "$"))     # systemd's unescaping of $$
    assert argv[:2] == ["/bin/sh", "-c"], argv
    tf = tmp_path / "node-exporter"
    script = (argv[2].replace("/var/lib/prometheus/node-exporter", str(tf))
              .replace(f"{installed}/usr/sbin/snaprotate", f"{BINARY} -c {env.conf}"))
    assert script != argv[2] and str(BINARY) in script, script
    r = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0 and not tf.exists(), r
    tf.mkdir()
    env.ok("run")
    r = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True,
                       preexec_fn=lambda: os.umask(0o077))
    assert r.returncode == 0, r
    prom = tf / "snaprotate.prom"
    assert os.stat(prom).st_mode & 0o777 == 0o644
    assert 'snaprotate_last_run_success{volume="data"} 1' in prom.read_text()
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=prom.read_text(),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_timer_calendar_and_options(installed):
    text = (installed / "usr/lib/systemd/system/snaprotate.timer").read_text()
    cal = re.search(r"^OnCalendar=(.*)$", text, re.M).group(1)
    r = run("systemd-analyze", "calendar", cal)
    assert "Normalized form: *-*-* *:00:00" in r.stdout, r.stdout
    assert re.search(r"^Persistent=true$", text, re.M)
    assert re.search(r"^RandomizedDelaySec=\S+$", text, re.M)
    assert re.search(r"^WantedBy=timers.target$", text, re.M)


def test_cron_file_parses(installed):
    croniter = pytest.importorskip("croniter")
    text = (installed / "etc/cron.d/snaprotate").read_text()
    jobs = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, line
        assert croniter.croniter.is_valid(" ".join(fields[:5])), line
        assert fields[5] == "root", line
        jobs.append(fields[6])
    assert len(jobs) == 1 and f"{installed}/usr/sbin/snaprotate -q run" in jobs[0], jobs
    run("sh", "-n", "-c", jobs[0])


def _help_words():
    text = run(BINARY, "--help").stdout
    commands = re.findall(r"^  ([a-z][a-z-]+)", text.split("Options:")[0], re.M)
    options = set(re.findall(r"(--[a-z][a-z-]+)", text))
    return commands, options


def _parser_keys():
    src = (ROOT / "src/model/config_keys.c").read_text()
    keys = {}
    for section, array in (("global", "cfg_global_keys"), ("volume", "cfg_volume_keys"),
                           ("group", "cfg_group_keys"), ("target", "cfg_target_keys")):
        body = re.search(array + r"\[[^\]]*\] = \{(.*?)\};", src, re.S).group(1)
        keys[section] = re.findall(r'"([a-z_]+)"', body)
    return keys


def test_man_pages_say_what_help_and_the_parser_know(installed):
    commands, options = _help_words()
    page8 = (ROOT / "doc/snaprotate.8.scd").read_text()
    assert len(commands) >= 15, commands
    for c in commands:
        assert f"*{c}*" in page8, f"snaprotate.8 does not describe '{c}'"
    for o in options:
        assert f"*{o}*" in page8, f"snaprotate.8 does not describe '{o}'"
    page5 = (ROOT / "doc/rotate.conf.5.scd").read_text()
    keys = _parser_keys()
    assert len(keys["volume"]) >= 20 and "send_pinned" in keys["target"], keys
    for section, names in keys.items():
        part = page5.split(f"# [{section}")[1].split("\n# ")[0]
        for k in names:
            assert f"*{k}*" in part, f"rotate.conf.5 [{section}] does not describe '{k}'"
    for page in ("man8/snaprotate.8", "man5/rotate.conf.5"):
        r = subprocess.run(["man", "--warnings", "-l", installed / "usr/share/man" / page],
                           capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
        assert "SYNOPSIS" in r.stdout and "SEE ALSO" in r.stdout


def complete(installed, conf, line):
    """What bash completion offers for @line (the cursor at its end)."""
    script = f"""
        source {installed}/usr/share/bash-completion/completions/snaprotate
        snaprotate() {{ {BINARY} "$@"; }}
        COMP_LINE={line!r}
        read -ra COMP_WORDS <<< "$COMP_LINE"
        [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
        _snaprotate
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    r = run("bash", "-c", script.replace("CONF", str(conf)))
    return sorted(r.stdout.split())


def test_bash_completion(installed, env):
    env.ok("snapshot", "data", "--now", "2026-11-27T09:00:00Z")
    assert complete(installed, env.conf, "snaprotate sn") == ["snapshot"]
    assert complete(installed, env.conf, "snaprotate pkg") == ["pkg-post", "pkg-pre"]
    assert complete(installed, env.conf, "snaprotate -c CONF list ") == ["data"]
    assert complete(installed, env.conf, "snaprotate -c CONF delete data ") == [
        "data.20261127T090000Z", "latest"]
    assert complete(installed, env.conf, "snaprotate pkg-pre --tool ") == [
        "apt", "dnf", "pacman"]
    assert "--kind" in complete(installed, env.conf, "snaprotate snapshot --")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """The .deb, built by dpkg-buildpackage from a copy of the working tree."""
    d = tmp_path_factory.mktemp("deb")
    src = d / "src"
    src.mkdir()
    files = run("git", "-C", ROOT, "ls-files", "-co", "--exclude-standard").stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    shutil.copytree(src / "pkg/debian", src / "debian")
    r = run("dpkg-buildpackage", "-b", "-us", "-uc", cwd=src, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = sorted(d.glob("snaprotate_*_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_deb_is_lintian_clean(deb):
    r = run("lintian", "--allow-root", "--fail-on", "error,warning", deb, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    fields = run("dpkg-deb", "-f", deb, "Depends", "Recommends").stdout
    assert "liblvm2cmd" not in fields.split("Recommends")[0], fields
    assert "liblvm2cmd2.03" in fields.split("Recommends")[1], fields


def test_deb_installs_works_unconfigured_and_purges(deb):
    root = PkgRoot()
    try:
        shutil.copy(deb, root.files / "repo")
        (root.files / "etc/snaprotate/rotate.conf").unlink()
        r = root.inroot("dpkg", "-i", f"/srv/repo/{deb.name}")
        assert r.returncode == 0, r.stdout + r.stderr
        assert root.inroot("snaprotate", "--version").stdout.strip() == "snaprotate 0.1.0"
        r = root.inroot("man", "--warnings", "-l", "/usr/share/man/man8/snaprotate.8.gz",
                        env=["MANWIDTH=80"])
        assert r.returncode == 0 and "pkg-pre" in r.stdout, r.stderr
        for f in ("/usr/share/man/man5/rotate.conf.5.gz",
                  "/usr/share/bash-completion/completions/snaprotate",
                  "/etc/apt/apt.conf.d/80snaprotate", "/etc/snaprotate/rotate.conf.example",
                  "/lib/systemd/system/snaprotate.service", "/etc/cron.d/snaprotate"):
            assert root.inroot("test", "-f", f).returncode == 0, f
        # The timer is enabled on install (started only where systemd runs).
        r = root.inroot("readlink", "/etc/systemd/system/timers.target.wants/snaprotate.timer")
        assert r.stdout.strip() == "/lib/systemd/system/snaprotate.timer", r.stdout + r.stderr
        assert root.inroot("test", "-d", "/var/lib/snaprotate").returncode == 0
        # Installed but not configured, the apt hook (the installed one) is silent.
        build_deb(root, "snaprotate-test-a", "1.0-1")
        build_deb(root, "snaprotate-test-b", "1.0-1")
        root.put("/etc/test-apt/apt.conf", 'Dir::Etc::SourceList "/etc/test-apt/sources.list";\n'
                 'Dir::Etc::SourceParts "/etc/test-apt/sources.list.d";\n')
        root.put("/etc/test-apt/sources.list", "deb [trusted=yes] file:/srv/repo ./\n")
        apt = ["APT_CONFIG=/etc/test-apt/apt.conf"]
        assert root.inroot("apt-get", "update", env=apt).returncode == 0
        r = root.inroot("apt-get", "-y", "install", "snaprotate-test-a", env=apt)
        assert r.returncode == 0 and "snaprotate" not in r.stderr, r.stdout + r.stderr
        assert root.snapshots_dir_empty()
        # Removed but not purged: the hook file stays, the binary is gone, apt goes on.
        assert root.inroot("dpkg", "-r", "snaprotate").returncode == 0
        assert root.inroot("test", "-f", "/etc/apt/apt.conf.d/80snaprotate").returncode == 0
        r = root.inroot("apt-get", "-y", "install", "snaprotate-test-b", env=apt)
        assert r.returncode == 0, r.stdout + r.stderr
        r = root.inroot("dpkg", "--purge", "snaprotate")
        assert r.returncode == 0, r.stdout + r.stderr
        for f in ("/usr/sbin/snaprotate", "/etc/apt/apt.conf.d/80snaprotate",
                  "/etc/systemd/system/timers.target.wants/snaprotate.timer"):
            assert root.inroot("test", "-e", f).returncode != 0, f
    finally:
        root.close()
