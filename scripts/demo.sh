#!/bin/bash
# The main job on a throwaway loop-device btrfs: make a filesystem, write a
# config, take snapshots across a simulated week with --now, show them, and
# remove everything that was made, also when a step fails.
set -euo pipefail

SNAPROTATE=$(realpath "${1:-./snaprotate}")
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it makes a loop device)" >&2; exit 1; }

work=$(mktemp -d /tmp/snaprotate-demo.XXXXXX)
loop=""
usbloop=""
cleanup() {
	mountpoint -q "$work/mnt" && umount "$work/mnt"
	mountpoint -q "$work/usb" && umount "$work/usb"
	[ -n "$loop" ] && losetup -d "$loop"
	[ -n "$usbloop" ] && losetup -d "$usbloop"
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "A throwaway btrfs on a loop device"
truncate -s 1G "$work/fs.img"
mkfs.btrfs -q -f "$work/fs.img" >/dev/null
loop=$(losetup --find --show "$work/fs.img")
mkdir "$work/mnt"
mount "$loop" "$work/mnt"
btrfs -q subvolume create "$work/mnt/data"
echo "mounted $loop at $work/mnt, subvolume $work/mnt/data"
truncate -s 1G "$work/usb.img"
mkfs.btrfs -q -f "$work/usb.img" >/dev/null
usbloop=$(losetup --find --show "$work/usb.img")
mkdir "$work/usb"
mount "$usbloop" "$work/usb"
mkdir "$work/usb/snaprotate"
echo "a second btrfs on $usbloop at $work/usb stands for a USB disk: the target"

conf="$work/rotate.conf"
cat >"$conf" <<CONF
[global]
lock_dir = $work/lock
state_dir = $work/state

[volume data]
backend = btrfs
path = $work/mnt/data
snapshot_dir = $work/mnt/.snapshots
retain = hourly=6 daily=7 weekly=4
retain_pre_post = 2
interval = 6h
targets = usb

[target usb]
url = file://$work/usb/snaprotate
retain = daily=3 weekly=2
CONF
chmod 600 "$conf"
step "The config, as snaprotate understands it"
show "$SNAPROTATE" -c "$conf" config-check

sr() { "$SNAPROTATE" -c "$conf" "$@"; }

step "A simulated week: the hourly timer (run) fires 24 times a day; an upgrade; a golden state"
# interval = 6h: only every sixth run takes a timeline snapshot; each run also prunes.
for day in 21 22 23 24 25 26 27; do
	for hour in $(seq -w 0 23); do
		echo "day $day hour $hour" >>"$work/mnt/data/journal.txt"
		sr -q run --now "2026-11-${day}T${hour}:07:00Z"
	done
	if [ "$day" = 24 ]; then
		pre=$(sr snapshot --kind pre --description "apt upgrade: linux-image-amd64" data \
			--now "2026-11-24T09:30:00Z")
		echo "upgraded" >>"$work/mnt/data/journal.txt"
		sr -q snapshot --pre "$pre" --description "apt upgrade: linux-image-amd64" data >/dev/null \
			--now "2026-11-24T09:31:00Z"
	fi
	if [ "$day" = 25 ]; then
		sr -q snapshot --pin --description "known good" data --now "2026-11-25T15:00:00Z" >/dev/null
	fi
done
show "$SNAPROTATE" -c "$conf" list

step "Why each snapshot is kept: prune explains every decision"
show "$SNAPROTATE" -c "$conf" prune --dry-run --now 2026-11-27T23:30:00Z

step "Two weeks later, with the timer off in between: what retention keeps"
show "$SNAPROTATE" -c "$conf" run --now 2026-12-11T12:00:00Z

step "The target keeps its own retention; the source keeps the base of the next send"
show ls "$work/usb/snaprotate/data"
show "$SNAPROTATE" -c "$conf" send data

step "Each snapshot is a read-only subvolume holding the content of its moment"
first=$(sr list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["snapshots"][0]["name"])')
show tail -n 2 "$work/mnt/.snapshots/$first/snapshot/journal.txt"
show cat "$work/mnt/.snapshots/$first/info.json"

step "A pinned snapshot refuses deletion; others go"
show "$SNAPROTATE" -c "$conf" delete data 20261125T150000Z || echo "(exit $? as expected)"
show "$SNAPROTATE" -c "$conf" delete data "$first"
show "$SNAPROTATE" -c "$conf" list

step "Cleaning up: unmount, detach $loop and $usbloop, remove $work"
