"""pkg-pre and pkg-post driven directly, as the hooks drive them (stdin as each package
manager writes it), for what needs time to pass or no package manager at all: a pre
that never gets its post, status, run closing it, broken configuration, groups."""
import json
import os


APT_INPUT = "VERSION 3\nAPT::Architecture=amd64\n\np - - none < 1.0-1 all none /x/p.deb\n"


def pkg(env, step, now, text="", *extra):
    return env.run(*extra, f"pkg-{step}", "--tool", "apt", "--now", now, input=text)


def test_a_pre_without_post_is_shown_then_closed_by_run(env):
    env.write_config(extra_volume="pkg_snapshots = yes\n")
    r = pkg(env, "pre", "2026-12-01T10:00:00Z", APT_INPUT)
    assert r.returncode == 0 and "data: pre data.20261201T100000Z (apt: install p)" in r.stdout
    r = env.run("status", "--now", "2026-12-01T13:00:00Z")
    assert "package pre data.20261201T100000Z still without its post (3h" in r.stdout, r.stdout
    doc = json.loads(env.run("status", "--json", "--now", "2026-12-01T13:00:00Z").stdout)
    assert doc["volumes"][0]["pkg_open"] == "data.20261201T100000Z"
    # Within a day run leaves it open: a long upgrade may still finish.
    r = env.ok("run", "--now", "2026-12-01T20:00:00Z")
    assert "never got its post" not in r.stdout + r.stderr
    r = env.ok("run", "--now", "2026-12-02T11:00:00Z")
    assert "package pre data.20261201T100000Z never got its post" in r.stdout + r.stderr, r
    assert "still without" not in env.run("status", "--now", "2026-12-02T11:00:01Z").stdout
    # The next post has no pre to pair with: a single snapshot that says so.
    r = pkg(env, "post", "2026-12-02T12:00:00Z")
    assert r.returncode == 0 and "data: single" in r.stdout, r.stdout
    kinds = {s["name"]: (s["kind"], s["description"]) for s in env.snaps()}
    assert kinds["data.20261202T120000Z"] == ("manual",
                                              "apt: after a package operation (no pre snapshot)")


def test_a_new_pre_leaves_an_abandoned_one_single(env):
    env.write_config(extra_volume="pkg_snapshots = yes\n")
    assert pkg(env, "pre", "2026-12-01T10:00:00Z", APT_INPUT).returncode == 0
    r = pkg(env, "pre", "2026-12-01T11:00:00Z", APT_INPUT)
    assert r.returncode == 0, r.stderr
    assert "pre data.20261201T100000Z never got its post" in r.stderr, r.stderr
    assert "data: pre data.20261201T110000Z" in r.stdout
    r = pkg(env, "post", "2026-12-01T11:00:30Z")
    post = [s for s in env.snaps() if s["kind"] == "post"]
    assert [p["pre"] for p in post] == ["data.20261201T110000Z"], post


def test_only_volumes_with_pkg_snapshots_and_groups_whole(env, btrfs):
    other = btrfs.subvolume("other")
    quiet = btrfs.subvolume("quiet")
    env.write_config(extra_volume="pkg_snapshots = yes\n",
                     extra=f"[volume other]\nbackend = btrfs\npath = {other}\n"
                           f"snapshot_dir = {btrfs.mnt}/snaps-other\npkg_snapshots = yes\n\n"
                           f"[volume quiet]\nbackend = btrfs\npath = {quiet}\n"
                           f"snapshot_dir = {btrfs.mnt}/snaps-quiet\n\n"
                           "[group g]\nvolumes = data other\n")
    r = pkg(env, "pre", "2026-12-01T10:00:00Z", APT_INPUT, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(v["volume"], v["outcome"], v["kind"]) for v in doc["volumes"]] == [
        ("data", "took", "pre"), ("other", "took", "pre")], doc
    assert env.names("quiet") == []


def test_a_broken_config_never_blocks_the_package_manager(env):
    env.conf.write_text("[volume data]\nbackend = zfs\n")
    os.chmod(env.conf, 0o600)
    r = pkg(env, "pre", "2026-12-01T10:00:00Z", APT_INPUT)
    assert r.returncode == 0, r.stderr
    assert "backend = 'zfs'" in r.stderr and "the package manager goes on" in r.stderr, r.stderr
    # Any other command still refuses it.
    assert env.run("list").returncode == 2


def test_no_package_named_takes_nothing_and_bad_input_says_why(env):
    env.write_config(extra_volume="pkg_snapshots = yes\n")
    r = pkg(env, "pre", "2026-12-01T10:00:00Z", "VERSION 3\nA=b\n\n")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r
    assert env.snaps() == []
    # apt without the VERSION 3 option: said, and the pair is taken all the same.
    r = pkg(env, "pre", "2026-12-01T10:00:00Z", "p - - none < 1 all none /x/p.deb\n")
    assert r.returncode == 0 and "VERSION 3" in r.stderr, r.stderr
    assert [s["description"] for s in env.snaps()] == ["apt: change packages"]
    r = env.run("pkg-pre", "--tool", "yum")
    assert r.returncode == 2 and "--tool 'yum'" in r.stderr
    r = env.run("pkg-pre")
    assert r.returncode == 2 and "needs --tool" in r.stderr


def test_a_pre_that_is_no_longer_whole_gets_no_post(env):
    """The pair's pre is looked up by name alone (not by listing thousands): one whose
    info.json is gone is incomplete there too, and the post becomes a single snapshot."""
    env.write_config(extra_volume="pkg_snapshots = yes\n")
    assert pkg(env, "pre", "2026-12-01T10:00:00Z", APT_INPUT).returncode == 0
    (env.snapdir / "data.20261201T100000Z" / "info.json").unlink()
    r = pkg(env, "post", "2026-12-01T10:01:00Z")
    assert r.returncode == 0 and "data: single" in r.stdout, r.stdout
    # A damaged pre (info.json that does not parse) is no pre either.
    assert pkg(env, "pre", "2026-12-01T12:00:00Z", APT_INPUT).returncode == 0
    (env.snapdir / "data.20261201T120000Z" / "info.json").write_text("{")
    r = pkg(env, "post", "2026-12-01T12:01:00Z")
    assert "data: single" in r.stdout, r.stdout
    r = env.run("snapshot", "--pre", "data.20261201T120000Z", "data")
    assert r.returncode == 2 and "not a pre snapshot" in r.stderr, r.stderr
