"""The apt hook (hooks/apt/80snaprotate) with the real apt and dpkg, in a throwaway root
over the host (pkgroot.py), against a loop btrfs volume: a pre/post pair per
transaction, named after the packages; nothing for a no-op; dedupe; failures that do or
do not block the transaction; nothing in a chroot."""
import pytest

from conftest import run
from pkgroot import T0, PkgRoot, at, hook_text

APT = ["APT_CONFIG=/etc/test-apt/apt.conf"]



def build_deb(root, name, version):
    d = root.w / "build" / f"{name}-{version}"
    (d / "DEBIAN").mkdir(parents=True)
    (d / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: snaprotate tests <tests@example.org>\n"
        "Description: a package made by snaprotate's tests\n")
    (d / "usr/share" / name).mkdir(parents=True)
    (d / "usr/share" / name / "VERSION").write_text(version + "\n")
    repo = root.files / "repo"
    run("dpkg-deb", "-Zgzip", "--build", d, repo / f"{name}_{version}_all.deb")
    (repo / "Packages").write_text(run("dpkg-scanpackages", "-m", ".", cwd=repo).stdout)


@pytest.fixture
def apt():
    root = PkgRoot()
    try:
        etc = root.files / "etc/test-apt"
        (etc / "apt.conf").write_text(
            'Dir::Etc::SourceList "/etc/test-apt/sources.list";\n'
            'Dir::Etc::SourceParts "/etc/test-apt/sources.list.d";\n'
            'Dir::Etc::Parts "/etc/test-apt/apt.conf.d";\n')
        (etc / "sources.list").write_text("deb [trusted=yes] file:/srv/repo ./\n")
        (etc / "apt.conf.d/80snaprotate").write_text(hook_text("apt/80snaprotate"))
        for name in ("snaprotate-test-a", "snaprotate-test-b"):
            build_deb(root, name, "1.0-1")
        yield root
    finally:
        root.close()


def apt_get(root, t, *args, update=False):
    if update:
        r = root.inroot("apt-get", "update", env=APT)
        assert r.returncode == 0, r.stderr
    return root.inroot("apt-get", "-y", *args, env=APT + [at(t)])


def installed(root, name):
    r = root.inroot("dpkg-query", "-W", "-f", "${Version} ${db:Status-Status}", name)
    return r.stdout.strip() if r.returncode == 0 else None


def test_install_upgrade_remove_each_give_one_named_pair(apt):
    r = apt_get(apt, T0, "install", "snaprotate-test-a", update=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(apt, "snaprotate-test-a") == "1.0-1 installed"
    pairs, lone, others = apt.pairs()
    assert len(pairs) == 1 and not lone and not others, apt.snapshots()
    pre, post = pairs[0]
    assert pre["description"] == "apt: install snaprotate-test-a", pre
    assert post["description"] == pre["description"]
    assert "data: pre data." in r.stdout and "data: post data." in r.stdout, r.stdout

    build_deb(apt, "snaprotate-test-a", "2.0-1")
    r = apt_get(apt, T0 + 3600, "install", "snaprotate-test-a", update=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(apt, "snaprotate-test-a") == "2.0-1 installed"
    r = apt_get(apt, T0 + 7200, "remove", "snaprotate-test-a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(apt, "snaprotate-test-a") in (None, "2.0-1 config-files", "2.0-1 not-installed")
    pairs, lone, others = apt.pairs()
    assert [p[0]["description"] for p in pairs] == [
        "apt: install snaprotate-test-a", "apt: upgrade snaprotate-test-a",
        "apt: remove snaprotate-test-a"], pairs
    assert not lone and not others


def test_a_noop_leaves_no_snapshot(apt):
    assert apt_get(apt, T0, "install", "snaprotate-test-a", update=True).returncode == 0
    before = apt.snapshots()
    r = apt_get(apt, T0 + 3600, "install", "snaprotate-test-a")
    assert r.returncode == 0 and "already the newest version" in r.stdout, r.stdout
    assert apt.snapshots() == before


def test_operations_within_pkg_dedupe_share_one_pair(apt):
    """unattended-upgrades runs dpkg once a step: one pair, its post after the last."""
    assert apt_get(apt, T0, "install", "snaprotate-test-a", update=True).returncode == 0
    first_post = apt.pairs()[0][0][1]["name"]
    assert apt_get(apt, T0 + 60, "install", "snaprotate-test-b").returncode == 0
    pairs, lone, others = apt.pairs()
    assert len(pairs) == 1 and not lone and not others, apt.snapshots()
    pre, post = pairs[0]
    assert post["name"] != first_post                  # replaced by the later one
    assert post["description"] == "apt: install snaprotate-test-a, snaprotate-test-b", post


@pytest.mark.parametrize("required", ["no", "yes"])
def test_a_failed_snapshot_blocks_only_with_pkg_required(apt, required):
    apt.write_config(f"pkg_required = {required}\n")
    assert apt_get(apt, T0, "update", update=False).returncode == 0
    apt.unmount_volume()
    try:
        r = apt_get(apt, T0, "install", "snaprotate-test-a")
        if required == "no":
            assert r.returncode == 0, r.stdout + r.stderr
            assert installed(apt, "snaprotate-test-a") == "1.0-1 installed"
            assert "data: no snapshot" in r.stderr and "goes on" in r.stderr, r.stderr
        else:
            assert r.returncode == 100, r.stdout + r.stderr
            assert installed(apt, "snaprotate-test-a") is None
            assert "data: no snapshot" in r.stderr, r.stderr
    finally:
        apt.mount_volume()
    assert apt.snapshots() == []


def test_in_a_chroot_nothing_is_taken_and_it_says_why(apt):
    """A plain chroot, as an installer or a rescue shell makes it: no /proc inside."""
    assert apt_get(apt, T0, "update").returncode == 0
    r = apt.chrooted("apt-get", "-y", "install", "snaprotate-test-a", env=APT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(apt, "snaprotate-test-a") == "1.0-1 installed"
    assert "no package snapshots: no /proc: an installer root or a chroot" in r.stderr, r.stderr
    assert apt.snapshots() == []


def test_an_apt_rootdir_is_an_installer_root(apt):
    """apt -o RootDir=... works on another tree: the hook (run in the real root) says so."""
    assert apt_get(apt, T0, "update").returncode == 0
    r = apt.inroot("sh", "-c", "printf 'VERSION 3\\nRootDir=/mnt/target/\\n\\n"
                   "p - - none < 1 all none /x/p.deb\\n' | snaprotate pkg-pre --tool apt")
    assert r.returncode == 0, r.stderr
    assert "the package manager works on '/mnt/target/', an installer root" in r.stderr, r.stderr
    assert apt.snapshots() == []
