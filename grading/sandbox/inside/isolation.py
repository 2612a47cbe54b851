"""The steps that give one run of submitted code a world of its own, inside the warm sandbox.

This module runs inside the sandbox and imports nothing of the kit. The server (`server.py`)
forks once per run, ahead of it; that fork, still trusted, calls these steps in order:

1. `new_namespaces`: fresh IPC (System V and POSIX objects), mount, network (abstract Unix
   sockets), UTS and PID namespaces, so that nothing an earlier run made can be reached;
2. `fresh_folders`: a new, empty, size-limited tmpfs on each writable folder (the lab folder,
   /tmp, the home, /dev/shm), with the read-only files that lay in them (the lab's release, the
   Python environment when the course lives under /tmp) bound again at the same places.

The run's first process (PID 1 of its namespace) then calls `mount_proc`, and waits for the
request: these steps are made ahead, while the server serves the run before. When the request
comes, it calls `join_cgroups` (the run's cgroup: memory, processes and CPU counted for the
whole run, shared memory and tmpfs pages included, then a cgroup namespace of its own) and
`hide_cgroups`, and the process that runs the student's code calls `drop_privileges`: limits,
an unprivileged user, no capabilities, no new privileges and the seccomp filter (`confine.py`).

Every namespace ends with the run's last process: a later run starts from nothing.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource

import confine  # beside this file

LIBC = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
KEPT_MOUNT_FLAGS = MS_NOEXEC | 0x400 | 0x800  # noexec, noatime, nodiratime (statvfs's bits are the same)
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
O_PATH = getattr(os, "O_PATH", 0o10000000)
LINUX_CAPABILITY_VERSION_3 = 0x20080522

CGROUP_MOUNT = "/run/course-cgroup"


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(
        LIBC.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
        f"mount {target}",
    )


# ---------------------------------------------------------------------------------------------
# The run's cgroup (joined when the request comes)
# ---------------------------------------------------------------------------------------------


def join_cgroups(folders: list[str]) -> None:
    """Move this process (and so all it will start) into the run's cgroup of each hierarchy, then
    into a cgroup namespace rooted there."""
    for folder in folders:
        with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
            procs.write("0")
    _check(LIBC.unshare(CLONE_NEWCGROUP), "unshare cgroup namespace")


def hide_cgroups() -> None:
    """Take the cgroup folders out of this run's view (they stay the server's; the run's mount
    namespace is its own)."""
    if os.path.isdir(CGROUP_MOUNT):
        for entry in sorted(os.listdir(CGROUP_MOUNT), reverse=True):
            LIBC.umount2(os.path.join(CGROUP_MOUNT, entry).encode(), MNT_DETACH)


# ---------------------------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------------------------

RUN_NAMESPACES = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWPID


def new_namespaces() -> None:
    """Fresh namespaces for this run; the next fork is PID 1 of the new PID namespace."""
    _check(LIBC.unshare(RUN_NAMESPACES), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


# ---------------------------------------------------------------------------------------------
# Fresh writable folders
# ---------------------------------------------------------------------------------------------


def _mount_points() -> dict[str, bool]:
    """Mount points of this namespace, in the order they were mounted -> whether each is read-only."""
    points = {}
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
            points[point] = "ro" in fields[5].split(",")
    return points


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def fresh_folders(folders: list[dict], owner: int) -> None:
    """Cover each writable folder ({"path", "bytes", "mode"}) with a new tmpfs, keeping the mounts
    that lay inside it (read-only files, the environment) at the same places, as they were."""
    writable = {folder["path"] for folder in folders}
    kept = []  # (path, O_PATH descriptor of what is mounted there, is a directory, is read-only)
    for point, read_only in _mount_points().items():
        if point not in writable and any(_inside(point, path) for path in writable):
            kept.append((point, os.open(point, O_PATH), os.path.isdir(point), read_only))
    for folder in sorted(folders, key=lambda folder: folder["path"].count("/")):
        path = folder["path"]
        os.makedirs(path, exist_ok=True)
        _mount(
            "tmpfs",
            path,
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"size={int(folder['bytes'])},mode={folder['mode']},uid={owner},gid={owner}",
        )
        for point, descriptor, is_dir, read_only in kept:
            if _inside(point, path) and not any(_inside(point, other) and _inside(other, path) for other in writable):
                _bind_again(descriptor, point, is_dir, read_only, owner)
    for _, descriptor, _, _ in kept:
        os.close(descriptor)


def _bind_again(descriptor: int, point: str, is_dir: bool, read_only: bool, owner: int) -> None:
    _make_parents(point, owner)
    if is_dir:
        os.makedirs(point, exist_ok=True)
    elif not os.path.exists(point):
        os.close(os.open(point, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(f"/proc/self/fd/{descriptor}", point, None, MS_BIND | MS_REC)
    if not read_only:
        return
    kept_flags = os.statvfs(point).f_flag & KEPT_MOUNT_FLAGS  # a remount may not lift them
    _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept_flags)


def _make_parents(point: str, owner: int) -> None:
    """The folders above a kept mount, made in the new tmpfs and left to the run's user."""
    missing = []
    parent = os.path.dirname(point)
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for folder in reversed(missing):
        os.mkdir(folder, 0o755)
        os.chown(folder, owner, owner)


# ---------------------------------------------------------------------------------------------
# The run's processes
# ---------------------------------------------------------------------------------------------


def mount_proc() -> None:
    """A /proc that shows this run's processes only (called as PID 1 of the run's namespace)."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def set_limits(limits: dict) -> None:
    """Per-process limits ({"RLIMIT_AS": bytes, ...}), on top of the run's cgroup."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (int(value), int(value)))


def drop_privileges(uid: int | None, seccomp_program: bytes | None) -> None:
    """Become the run's unprivileged user with no capabilities and no way to gain any.

    `uid` is the user id to switch to (the grader runs as root); None means this sandbox lives
    in a user namespace of an ordinary user, and the run gets a user namespace of its own in
    which it is user 1000. Then the bounding, inheritable and ambient sets are emptied, no new
    privileges can be gained (setuid programs, file capabilities), and the seccomp filter
    (`confine.install_filter`) closes the system calls a notebook never needs.
    """
    if uid is None:
        _own_user_namespace(1000)
    _drop_bounding_set()
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _clear_capabilities()
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if seccomp_program:
        confine.install_filter(seccomp_program)


def _own_user_namespace(inside: int) -> None:
    outside_uid, outside_gid = os.getuid(), os.getgid()
    _check(LIBC.unshare(CLONE_NEWUSER), "unshare user namespace")
    for name, text in (
        ("uid_map", f"{inside} {outside_uid} 1"),
        ("setgroups", "deny"),
        ("gid_map", f"{inside} {outside_gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as mapping:
            mapping.write(text)


def _drop_bounding_set() -> None:
    for capability in range(64):
        if LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _clear_capabilities() -> None:
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(LIBC.capset(ctypes.byref(header), data), "capset")
