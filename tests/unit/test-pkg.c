/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-pkg.c: what the package managers' hooks are given, read
 * (model/pkg.h), and the descriptions pre/post pairs carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/util.h"
#include "model/pkg.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define APT_HEAD "VERSION 3\nAPT::Architecture=amd64\nCommandLine::AsString=apt-get%20install%20p\n\n"

struct parse_case {
	const char *what;
	enum pkg_tool tool;
	const char *input;
	const char *want;		/* the description */
	const char *root;		/* apt's RootDir, NULL: none */
	enum pkg_action fallback;
};

static const struct parse_case parse_cases[] = {
	{ "apt install", PKG_APT, APT_HEAD "p - - none < 1.0-1 all none /srv/repo/./p_1.0-1_all.deb\n",
	  "apt: install p" },
	{ "apt upgrade, then its configure step is the same package", PKG_APT,
	  APT_HEAD "systemd 252.1 amd64 same < 252.2 amd64 same /var/cache/apt/archives/s.deb\n"
	  "systemd 252.1 amd64 same < 252.2 amd64 same **CONFIGURE**\n",
	  "apt: upgrade systemd" },
	{ "apt remove", PKG_APT, APT_HEAD "p 1.0-1 all none > - - none **REMOVE**\n",
	  "apt: remove p" },
	{ "apt downgrade and reinstall", PKG_APT,
	  APT_HEAD "a 2.0 all none > 1.0 all none /x/a.deb\nb 1.0 all none = 1.0 all none /x/b.deb\n",
	  "apt: downgrade a, reinstall b" },
	{ "apt: many, grouped by action, the rest counted", PKG_APT,
	  APT_HEAD "linux-image-amd64 1 amd64 same < 2 amd64 same /x/l.deb\n"
	  "new - - none < 1 all none /x/n.deb\n"
	  "systemd 1 amd64 same < 2 amd64 same /x/s.deb\n"
	  "libc6 1 amd64 same < 2 amd64 same /x/c.deb\n"
	  "old 1 all none > - - none **REMOVE**\n",
	  "apt: install new, upgrade linux-image-amd64, systemd +2 more" },
	{ "apt: RootDir, %-encoded", PKG_APT,
	  "VERSION 3\nRootDir=/mnt/target%2Dsys/\n\np - - none < 1 all none /x/p.deb\n",
	  "apt: install p", "/mnt/target-sys/" },
	{ "apt: no package lines", PKG_APT, APT_HEAD, "apt: no package named" },
	{ "apt: a line that is not nine fields is skipped", PKG_APT,
	  APT_HEAD "garbage\np - - none < 1 all none /x/p.deb\n", "apt: install p" },
	{ "apt: without a final newline", PKG_APT, APT_HEAD "p - - none < 1 all none /x/p.deb",
	  "apt: install p" },
	{ "pacman with --operation", PKG_PACMAN, "linux\nsystemd\n", "pacman: upgrade linux, systemd",
	  NULL, PKG_UPGRADE },
	{ "pacman without", PKG_PACMAN, "a\n\nb\n", "pacman: change a, b", NULL, PKG_CHANGE },
	{ "pacman: a name with a blank or a control character is skipped", PKG_PACMAN,
	  "a b\nc\x01\nd\n", "pacman: install d", NULL, PKG_INSTALL },
	{ "pacman: nothing", PKG_PACMAN, "", "pacman: no package named", NULL, PKG_INSTALL },
	{ "dnf: the outgoing halves are skipped", PKG_DNF,
	  "Upgrade bash\nUpgraded bash\nInstall tree\nReinstall p\nReinstalled p\nRemoved q\n",
	  "dnf: install tree, upgrade bash, reinstall p +1 more" },
	{ "dnf: an action it does not know is a change", PKG_DNF, "Frobnicate p\n",
	  "dnf: change p" },
	{ "a long name stops the list early", PKG_PACMAN,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\nc\n",
	  "pacman: remove aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa +2 more", NULL,
	  PKG_REMOVE },
};

static void parse_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct pkg_txn t = { 0 };
		struct rerr e = { 0 };
		char buf[256];

		assert_int_equal(pkg_parse(c->tool, c->input, strlen(c->input), c->fallback, &t, &e),
				 0);
		pkg_describe(c->tool, &t, buf, sizeof(buf));
		if (!streq(buf, c->want))
			fail_msg("%s: '%s', expected '%s'", c->what, buf, c->want);
		if (c->root ? !t.root || !streq(t.root, c->root) : t.root != NULL)
			fail_msg("%s: root '%s'", c->what, t.root ?: "(none)");
		pkg_txn_done(&t);
	}
}

static void apt_needs_version_3(void **state)
{
	static const char v2[] = "VERSION 2\n\np - - none < 1 all none /x/p.deb\n";
	struct pkg_txn t = { 0 };
	struct rerr e = { 0 };

	(void) state;
	assert_int_equal(pkg_parse(PKG_APT, v2, strlen(v2), PKG_CHANGE, &t, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "VERSION 3"));
	assert_int_equal(t.n, 0);
}

/* Operations that share one pre: names once, counts beyond the kept list carried over. */
static void merge_and_cap(void **state)
{
	struct pkg_txn a = { 0 }, b = { 0 };
	char name[16], buf[256];

	(void) state;
	assert_int_equal(pkg_txn_add(&a, PKG_UPGRADE, "x"), 0);
	assert_int_equal(pkg_txn_add(&b, PKG_REMOVE, "x"), 0);
	assert_int_equal(pkg_txn_add(&b, PKG_INSTALL, "y"), 0);
	assert_int_equal(pkg_txn_merge(&a, &b), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.total, 2);
	assert_string_equal(pkg_describe(PKG_APT, &a, buf, sizeof(buf)), "apt: install y, upgrade x");
	pkg_txn_done(&b);
	for (int i = 0; i < PKG_CHANGES_MAX + 10; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(pkg_txn_add(&b, PKG_INSTALL, name), 0);
	}
	assert_int_equal(b.n, PKG_CHANGES_MAX);
	assert_int_equal(b.total, PKG_CHANGES_MAX + 10);
	assert_int_equal(pkg_txn_merge(&a, &b), 0);
	assert_int_equal(a.total, 2 + PKG_CHANGES_MAX + 10);
	pkg_txn_done(&a);
	pkg_txn_done(&b);
}

static void names_round_trip(void **state)
{
	(void) state;
	for (int t = 0; t < _PKG_TOOL_MAX; t++)
		assert_int_equal(pkg_tool_from_string(pkg_tool_to_string((enum pkg_tool)t)), t);
	for (int a = 0; a < _PKG_ACTION_MAX; a++)
		assert_int_equal(pkg_action_from_string(pkg_action_to_string((enum pkg_action)a)), a);
	assert_int_equal(pkg_tool_from_string("yum"), _PKG_TOOL_INVALID);
	assert_int_equal(pkg_action_from_string("purge"), _PKG_ACTION_INVALID);
	assert_null(pkg_tool_to_string(_PKG_TOOL_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_table),
		cmocka_unit_test(apt_needs_version_3),
		cmocka_unit_test(merge_and_cap),
		cmocka_unit_test(names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
