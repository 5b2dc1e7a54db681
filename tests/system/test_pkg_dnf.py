"""The dnf plugin (hooks/dnf/snaprotate.py) with the real dnf 4 (Debian's dnf) and a
local repository made with createrepo_c, in a throwaway root (pkgroot.py): one pair
naming the package, nothing for "Nothing to do", and a transaction aborted when a
volume with pkg_required = yes cannot be snapshotted."""

import pytest

from conftest import ROOT, run
from pkgroot import T0, PkgRoot, at

PLUGINS = "/usr/lib/python3/dist-packages/dnf-plugins"
SPEC = """Name: {name}
Version: {version}
Release: 1
Summary: a package made by snaprotate's tests
License: GPL-2.0-or-later
BuildArch: noarch

%description
A package made by snaprotate's tests.

%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {version} > %{{buildroot}}/usr/share/{name}/VERSION

%files
/usr/share/{name}/VERSION
"""



def build_rpm(root, name, version):
    top = root.w / "rpmbuild"
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / f"{name}-{version}.spec"
    spec.write_text(SPEC.format(name=name, version=version))
    run("rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", f"_dbpath {top}/db", spec)
    repo = root.files / "repo"
    for rpm in (top / "RPMS/noarch").glob(f"{name}-{version}-*.rpm"):
        rpm.rename(repo / rpm.name)
    run("createrepo_c", "-q", repo)


@pytest.fixture
def dnf():
    root = PkgRoot()
    try:
        root.ns(f"rm -rf {root.r}/etc/yum.repos.d {root.r}/etc/dnf {root.r}{PLUGINS}")
        root.put("/etc/dnf/dnf.conf", "[main]\ngpgcheck=0\ninstall_weak_deps=0\n"
                 f"pluginpath={PLUGINS}\npluginconfpath=/etc/dnf/plugins\n")
        root.put("/etc/yum.repos.d/test.repo",
                 "[test]\nname=test\nbaseurl=file:///srv/repo\ngpgcheck=0\n")
        root.put(f"{PLUGINS}/snaprotate.py", (ROOT / "hooks/dnf/snaprotate.py").read_text())
        root.put("/etc/dnf/plugins/snaprotate.conf",
                 (ROOT / "hooks/dnf/snaprotate.conf").read_text())
        build_rpm(root, "snaprotate-test-a", "1.0")
        yield root
    finally:
        root.close()


def dnf_do(root, t, *args):
    return root.inroot("dnf", "-y", "--releasever=12", *args, env=[at(t)])


def installed(root, name):
    r = root.inroot("rpm", "-q", "--qf", "%{VERSION}", name)
    return r.stdout.strip() if r.returncode == 0 else None


def test_install_upgrade_remove_each_give_one_named_pair(dnf):
    r = dnf_do(dnf, T0, "install", "snaprotate-test-a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(dnf, "snaprotate-test-a") == "1.0"
    build_rpm(dnf, "snaprotate-test-a", "2.0")
    r = dnf_do(dnf, T0 + 3600, "--refresh", "upgrade")
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed(dnf, "snaprotate-test-a") == "2.0"
    assert dnf_do(dnf, T0 + 7200, "remove", "snaprotate-test-a").returncode == 0
    assert installed(dnf, "snaprotate-test-a") is None
    pairs, lone, others = dnf.pairs()
    assert not lone and not others, dnf.snapshots()
    assert [(pre["description"], post["description"]) for pre, post in pairs] == [
        ("dnf: install snaprotate-test-a",) * 2, ("dnf: upgrade snaprotate-test-a",) * 2,
        ("dnf: remove snaprotate-test-a",) * 2]


def test_nothing_to_do_gives_nothing(dnf):
    assert dnf_do(dnf, T0, "install", "snaprotate-test-a").returncode == 0
    before = dnf.snapshots()
    r = dnf_do(dnf, T0 + 3600, "install", "snaprotate-test-a")
    assert r.returncode == 0 and "Nothing to do" in r.stdout + r.stderr, r.stdout
    assert dnf_do(dnf, T0 + 7200, "upgrade").returncode == 0
    assert dnf.snapshots() == before


@pytest.mark.parametrize("required", ["no", "yes"])
def test_a_failed_pre_aborts_only_with_pkg_required(dnf, required):
    dnf.write_config(f"pkg_required = {required}\n")
    assert dnf_do(dnf, T0, "makecache").returncode == 0
    dnf.unmount_volume()
    try:
        r = dnf_do(dnf, T0, "install", "snaprotate-test-a")
    finally:
        dnf.mount_volume()
    assert "data: no snapshot" in r.stderr, r.stderr
    if required == "no":
        assert r.returncode == 0, r.stdout + r.stderr
        assert installed(dnf, "snaprotate-test-a") == "1.0"
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert "pkg_required = yes" in r.stderr, r.stderr
        assert installed(dnf, "snaprotate-test-a") is None
    assert dnf.snapshots() == []


def test_an_installroot_snapshots_nothing(dnf):
    """dnf --installroot: the plugin runs in dnf, on the real root; installroot tells."""
    dnf.ns(f"mkdir -p {dnf.r}/mnt/target")
    r = dnf.inroot("dnf", "-y", "--releasever=12", "--installroot=/mnt/target",
                   "--setopt=reposdir=/etc/yum.repos.d", "install", "snaprotate-test-a",
                   env=[at(T0)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the package manager works on '/mnt/target'" in r.stderr, r.stderr
    assert dnf.snapshots() == []
