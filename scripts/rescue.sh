#!/bin/sh
# make rescue: a self-contained bundle of snaprotate that runs from any rescue shell
# (SPEC 7). Debian ships no static libmount or liblvm2cmd, so the bundle carries the
# binary, every library it links and the ones it loads (liblvm2cmd), and the dynamic
# loader, with a launcher that runs the binary through that loader.
#   scripts/rescue.sh BINARY OUTDIR   ->  OUTDIR/snaprotate-rescue/ and its .tar.gz
set -eu
bin=$1
out=$2
b="$out/snaprotate-rescue"
rm -rf "$b"
mkdir -p "$b/bin" "$b/lib"
cp "$bin" "$b/bin/snaprotate"

# The libraries ldd lists for $1, and the loader, into lib/.
libs() {
	ldd "$1" | awk '/=> \// { print $3 } /^[[:space:]]*\/.*ld-linux/ { print $1 }'
}
for l in $(libs "$bin"); do cp -L "$l" "$b/lib/"; done
for lvm in /lib/*/liblvm2cmd.so.2.03 /usr/lib/*/liblvm2cmd.so.2.03; do
	[ -e "$lvm" ] || continue
	cp -L "$lvm" "$b/lib/"
	for l in $(libs "$lvm"); do cp -L "$l" "$b/lib/"; done
	break
done
for loader in "$b"/lib/ld-linux*; do
	loader=${loader##*/}
	break
done

cat >"$b/snaprotate" <<LAUNCHER
#!/bin/sh
# snaprotate, with the libraries it came with: run it from any rescue shell.
here=\$(dirname "\$(readlink -f "\$0")")
SNAPROTATE_SELF="\$here/snaprotate" exec "\$here/lib/$loader" --library-path "\$here/lib" \\
	"\$here/bin/snaprotate" "\$@"
LAUNCHER
chmod 755 "$b/snaprotate"
tar -C "$out" -czf "$out/snaprotate-rescue.tar.gz" snaprotate-rescue
echo "$b"
