#!/bin/bash
# dracut module: snaprotate in the initramfs, for a rescue shell there (rd.break)
# to list and roll back with --fs. Untested here: Debian 12's CI has no dracut run.

check() {
	require_binaries snaprotate || return 1
	return 255
}

depends() {
	echo btrfs
}

install() {
	inst_binary snaprotate
	# Loaded with dlopen() for LVM volumes: the binary's dependencies do not name it.
	inst_libdir_file "liblvm2cmd.so.2.03"
}
