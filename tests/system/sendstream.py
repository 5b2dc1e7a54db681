"""A btrfs send stream built by hand (the format of btrfs-progs' send.h), with
real CRCs, so that `btrfs receive` itself would act on it: what a hostile
sender sends to `serve`."""
import struct

# Commands and attributes, version 1.
SUBVOL, SNAPSHOT, MKFILE, MKDIR, MKNOD, MKFIFO, MKSOCK, SYMLINK, RENAME, LINK, UNLINK, \
    RMDIR, SET_XATTR, REMOVE_XATTR, WRITE, CLONE, TRUNCATE, CHMOD, CHOWN, UTIMES, END, \
    UPDATE_EXTENT = range(1, 23)
A_UUID, A_CTRANSID, A_INO, A_SIZE, A_MODE, A_UID, A_GID, A_RDEV, A_CTIME, A_MTIME, A_ATIME, \
    A_OTIME, A_XATTR_NAME, A_XATTR_DATA, A_PATH, A_PATH_TO, A_PATH_LINK, A_FILE_OFFSET, \
    A_DATA, A_CLONE_UUID, A_CLONE_CTRANSID, A_CLONE_PATH, A_CLONE_OFFSET, \
    A_CLONE_LEN = range(1, 25)


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c_raw(data, crc=0):
    """CRC-32C as btrfs send uses it: seed 0, no final inversion."""
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def u64(v):
    return struct.pack("<Q", v)


def uuid_bytes(u):
    """'xxxxxxxx-xxxx-...' -> 16 bytes, in the order the kernel sends them."""
    return bytes.fromhex(u.replace("-", ""))


class Stream:
    def __init__(self, version=1):
        self.buf = bytearray(b"btrfs-stream\0" + struct.pack("<I", version))

    def cmd(self, cmd, *attrs):
        body = bytearray()
        for t, v in attrs:
            if isinstance(v, str):
                v = v.encode()
            body += struct.pack("<HH", t, len(v)) + v
        head = struct.pack("<IHI", len(body), cmd, 0)
        crc = crc32c_raw(head + body)
        self.buf += struct.pack("<IHI", len(body), cmd, crc) + body
        return self

    # The commands a sender uses, with the attributes `btrfs receive` wants.
    def subvol(self, uuid, path="snapshot"):
        return self.cmd(SUBVOL, (A_PATH, path), (A_UUID, uuid_bytes(uuid)), (A_CTRANSID, u64(7)))

    def snapshot(self, uuid, parent_uuid, path="snapshot"):
        return self.cmd(SNAPSHOT, (A_PATH, path), (A_UUID, uuid_bytes(uuid)),
                        (A_CTRANSID, u64(8)), (A_CLONE_UUID, uuid_bytes(parent_uuid)),
                        (A_CLONE_CTRANSID, u64(7)))

    def mkfile(self, path, ino=300):
        return self.cmd(MKFILE, (A_PATH, path), (A_INO, u64(ino)))

    def mkdir(self, path, ino=301):
        return self.cmd(MKDIR, (A_PATH, path), (A_INO, u64(ino)))

    def symlink(self, path, target, ino=302):
        return self.cmd(SYMLINK, (A_PATH, path), (A_INO, u64(ino)), (A_PATH_LINK, target))

    def write(self, path, data, offset=0):
        return self.cmd(WRITE, (A_PATH, path), (A_FILE_OFFSET, u64(offset)), (A_DATA, data))

    def rename(self, path, to):
        return self.cmd(RENAME, (A_PATH, path), (A_PATH_TO, to))

    def link(self, path, existing):
        return self.cmd(LINK, (A_PATH, path), (A_PATH_LINK, existing))

    def unlink(self, path):
        return self.cmd(UNLINK, (A_PATH, path))

    def set_xattr(self, path, name, value):
        return self.cmd(SET_XATTR, (A_PATH, path), (A_XATTR_NAME, name), (A_XATTR_DATA, value))

    def truncate(self, path, size):
        return self.cmd(TRUNCATE, (A_PATH, path), (A_SIZE, u64(size)))

    def chmod(self, path, mode):
        return self.cmd(CHMOD, (A_PATH, path), (A_MODE, u64(mode)))

    def clone(self, path, clone_uuid, clone_path, length, offset=0, clone_offset=0):
        return self.cmd(CLONE, (A_PATH, path), (A_FILE_OFFSET, u64(offset)),
                        (A_CLONE_LEN, u64(length)), (A_CLONE_UUID, uuid_bytes(clone_uuid)),
                        (A_CLONE_CTRANSID, u64(7)), (A_CLONE_PATH, clone_path),
                        (A_CLONE_OFFSET, u64(clone_offset)))

    def end(self):
        return self.cmd(END)

    def bytes(self):
        return bytes(self.buf)
