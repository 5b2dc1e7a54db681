# snaprotate: a pre snapshot before dnf changes packages and its post after
# (SPEC 8), for volumes with pkg_snapshots = yes in /etc/snaprotate/rotate.conf.
# A dnf 4 plugin: installed in dnf's pluginpath (Debian:
# /usr/lib/python3/dist-packages/dnf-plugins/), enabled by snaprotate.conf in
# pluginconfpath (/etc/dnf/plugins/).
#
# The pre comes in pre_transaction(), after the download and rpm's test
# transaction, just before rpm changes anything (resolved() also runs for
# "Nothing to do" and before the user confirms); the post in transaction().
# Only dnf.exceptions.Error aborts a transaction, and it is raised only when
# snaprotate says a volume with pkg_required = yes failed.
import subprocess

import dnf
import dnf.exceptions

SNAPROTATE = "/usr/sbin/snaprotate"


class Snaprotate(dnf.Plugin):
    name = "snaprotate"

    def _changes(self):
        """One "ACTION NAME" line an item, dnf's own action names (pkg-pre reads them)."""
        return "".join(f"{item.action_name} {item.pkg.name}\n"
                       for item in self.base.transaction)

    def _run(self, step):
        argv = [SNAPROTATE, step, "--tool", "dnf", "--root", self.base.conf.installroot or "/"]
        try:
            return subprocess.run(argv, input=self._changes(), text=True,
                                  check=False).returncode
        except OSError:
            return 0        # snaprotate removed, this plugin left behind

    def pre_transaction(self):
        if self.base.transaction and self._run("pkg-pre") != 0:
            raise dnf.exceptions.Error("snaprotate: no pre snapshot of a volume with "
                                       "pkg_required = yes; nothing was changed")

    def transaction(self):
        if self.base.transaction:
            self._run("pkg-post")
