"""The pacman hooks (hooks/pacman/*.hook) with the real pacman (Debian's
pacman-package-manager) and a local repository made with repo-add, in a throwaway
root (pkgroot.py): one pair per transaction, also for one that installs and upgrades
at once, nothing for a no-op, nothing under `pacman --root`."""
from pathlib import Path

import pytest

from conftest import ROOT, run
from pkgroot import T0, PkgRoot, at

HOOKS = sorted((ROOT / "hooks/pacman").glob("*.hook"))



def build_pkg(root, name, version, depends=()):
    d = root.w / "build" / f"{name}-{version}"
    (d / "usr/share" / name).mkdir(parents=True)
    (d / "usr/share" / name / "VERSION").write_text(version + "\n")
    info = f"pkgname = {name}\npkgver = {version}\narch = any\n"
    info += "".join(f"depend = {dep}\n" for dep in depends)
    (d / ".PKGINFO").write_text(info)
    repo = root.files / "repo"
    pkg = repo / f"{name}-{version}-any.pkg.tar.zst"
    run("bsdtar", "--zstd", "-cf", pkg, "-C", d, ".PKGINFO", "usr")
    run("repo-add", "-q", repo / "test.db.tar.gz", pkg)


def pacman_conf(server):
    return ("[options]\nArchitecture = auto\nSigLevel = Never\n\n"
            f"[test]\nServer = file://{server}\n")


@pytest.fixture
def pac():
    root = PkgRoot()
    try:
        root.put("/etc/pacman.conf", pacman_conf("/srv/repo"))
        root.ns(f"mkdir -p {root.r}/var/lib/pacman")
        for h in HOOKS:
            root.put(f"/usr/share/libalpm/hooks/{h.name}", h.read_text())
        build_pkg(root, "snaprotate-test-a", "1.0-1")
        yield root
    finally:
        root.close()


def pacman(root, t, *args):
    return root.inroot("pacman", "--noconfirm", *args, env=[at(t)])


def installed(root, name):
    r = root.inroot("pacman", "-Q", name)
    return r.stdout.split()[1] if r.returncode == 0 else None


def descriptions(root):
    pairs, lone, others = root.pairs()
    assert not lone and not others, root.snapshots()
    for pre, post in pairs:
        assert post["description"] == pre["description"], (pre, post)
    return [pre["description"] for pre, _ in pairs]


def test_install_upgrade_remove_each_give_one_named_pair(pac):
    r = pacman(pac, T0, "-Sy", "snaprotate-test-a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(pac, "snaprotate-test-a") == "1.0-1"
    assert "snaprotate: pre snapshot" in r.stdout and "data: pre data." in r.stdout, r.stdout
    build_pkg(pac, "snaprotate-test-a", "2.0-1")
    assert pacman(pac, T0 + 3600, "-Syyu").returncode == 0
    assert installed(pac, "snaprotate-test-a") == "2.0-1"
    assert pacman(pac, T0 + 7200, "-R", "snaprotate-test-a").returncode == 0
    assert installed(pac, "snaprotate-test-a") is None
    assert descriptions(pac) == ["pacman: install snaprotate-test-a",
                                 "pacman: upgrade snaprotate-test-a",
                                 "pacman: remove snaprotate-test-a"]


def test_one_transaction_that_installs_and_upgrades_gives_one_pair(pac):
    """-Syu b: a is upgraded and b installed, two pre hooks in one transaction."""
    assert pacman(pac, T0, "-Sy", "snaprotate-test-a").returncode == 0
    build_pkg(pac, "snaprotate-test-a", "2.0-1")
    build_pkg(pac, "snaprotate-test-b", "1.0-1", depends=["snaprotate-test-a"])
    r = pacman(pac, T0 + 3600, "-Syyu", "snaprotate-test-b")
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(pac, "snaprotate-test-b") == "1.0-1"
    assert descriptions(pac) == [
        "pacman: install snaprotate-test-a",
        "pacman: install snaprotate-test-b, upgrade snaprotate-test-a"]


def test_a_noop_gives_nothing(pac):
    assert pacman(pac, T0, "-Sy", "snaprotate-test-a").returncode == 0
    before = pac.snapshots()
    r = pacman(pac, T0 + 3600, "-S", "--needed", "snaprotate-test-a")
    assert r.returncode == 0 and "there is nothing to do" in r.stdout + r.stderr, r.stdout
    assert pacman(pac, T0 + 7200, "-Syu").returncode == 0
    assert pac.snapshots() == before


@pytest.mark.parametrize("required", ["no", "yes"])
def test_a_failed_pre_aborts_only_with_pkg_required(pac, required):
    pac.write_config(f"pkg_required = {required}\n")
    pac.unmount_volume()
    try:
        r = pacman(pac, T0, "-Sy", "snaprotate-test-a")
    finally:
        pac.mount_volume()
    if required == "no":
        assert r.returncode == 0, r.stdout + r.stderr
        assert installed(pac, "snaprotate-test-a") == "1.0-1"
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert "failed to run transaction hooks" in r.stderr, r.stderr
        assert installed(pac, "snaprotate-test-a") is None
    assert "data: no snapshot" in r.stdout + r.stderr
    assert pac.snapshots() == []


def test_pacman_root_from_outside_snapshots_nothing(pac):
    """pacman --root runs the hooks chrooted into the root, without /proc: an installer."""
    host_conf = pac.files / "pacman-host.conf"
    host_conf.write_text(pacman_conf(pac.files / "repo"))
    # Every path pacman writes is the root's: nothing of the host's changes.
    r = pac.ns(f"pacman --noconfirm --root {pac.r} --config {host_conf} "
               f"--dbpath {pac.r}/var/lib/pacman --cachedir {pac.r}/var/cache/pacman/pkg "
               f"--logfile {pac.r}/var/log/pacman.log --gpgdir {pac.r}/etc/pacman.d/gnupg "
               f"--hookdir {pac.r}/usr/share/libalpm/hooks -Sy snaprotate-test-a 2>&1",
               check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no package snapshots: no /proc" in r.stdout, r.stdout
    assert installed(pac, "snaprotate-test-a") == "1.0-1"
    assert pac.snapshots() == []
    assert not list(Path("/var/cache/pacman/pkg").glob("snaprotate-test-*"))
