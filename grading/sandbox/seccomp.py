"""The seccomp filter that keeps submitted code to a small kernel surface.

The sandbox's namespaces, unprivileged user and dropped capabilities decide what the code may
touch; this filter decides which parts of the kernel it may reach at all. Code that can create
a user namespace gets a full set of capabilities inside it, and with them the mount, network
and netfilter code that most local privilege escalations of recent years went through; bpf,
perf_event_open, io_uring, userfaultfd and the keyrings are large or subtle interfaces with
a similar record; ptrace and its relatives would let one run reach into another process of the
same user (the warm sandbox's server). None of that is needed to run a notebook.

It is a denylist, like the default profile of container runtimes (Docker's is the model):
everything numpy, matplotlib, IPython, scikit-learn, threads and subprocesses use stays
allowed, and the calls below fail with EPERM as they would for any unprivileged process. Two
calls are filtered on their arguments: `clone` is refused when it asks for a new namespace,
and `personality` when it would change the execution domain; `clone3` answers ENOSYS, since
its flags live in memory a filter cannot read, and glibc then falls back to `clone`. A call
from any other architecture (the 32-bit ABIs) kills the process.

`filter_program()` builds the classic BPF program as bytes; `inside/confine.py` installs it in
the sandbox, where the kit is not mounted.
"""

from __future__ import annotations

import platform
import struct
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# What is denied
# ---------------------------------------------------------------------------------------------

DENIED = (
    # New namespaces: a user namespace grants every capability inside it.
    "unshare",
    "setns",
    # Other processes' memory and file descriptors.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    # Programs and probes run by the kernel, and watching the whole system.
    "bpf",
    "perf_event_open",
    "lookup_dcookie",
    "fanotify_init",
    # Kernel keyrings.
    "keyctl",
    "add_key",
    "request_key",
    # Page faults handled by user space (used to win kernel races) and io_uring.
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # Mounts and the root directory, old and new mount APIs.
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # Files opened by handle, past the directories' permissions.
    "open_by_handle_at",
    "name_to_handle_at",
    # Kernel modules and replacement kernels.
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "kexec_load",
    "kexec_file_load",
    # Settings of the whole machine: power, swap, accounting, kernel log, quotas, clocks, names.
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "quotactl",
    "quotactl_fd",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "vhangup",
    # Hardware ports and obsolete calls.
    "iopl",
    "ioperm",
    "uselib",
    "nfsservctl",
    "_sysctl",
    "sysfs",
    "ustat",
)

# Flags of clone() that create a namespace. CLONE_NEWTIME shares its bit with clone()'s exit
# signal, which no valid signal sets, so refusing it costs nothing.
CLONE_NEWTIME, CLONE_NEWNS, CLONE_NEWCGROUP = 0x80, 0x20000, 0x02000000
CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER = 0x04000000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWTIME
    | CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)

# personality() arguments allowed: PER_LINUX, and 0xffffffff, which only asks for the current one.
PER_LINUX, PER_QUERY = 0x0, 0xFFFFFFFF

# ---------------------------------------------------------------------------------------------
# System call numbers (those the filter names; absent: the architecture has no such call)
# ---------------------------------------------------------------------------------------------

X86_64 = {
    "clone": 56,
    "ptrace": 101,
    "syslog": 103,
    "uselib": 134,
    "personality": 135,
    "ustat": 136,
    "sysfs": 139,
    "vhangup": 153,
    "pivot_root": 155,
    "_sysctl": 156,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "init_module": 175,
    "delete_module": 176,
    "get_kernel_syms": 177,
    "query_module": 178,
    "quotactl": 179,
    "nfsservctl": 180,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "open_tree_attr": 467,
}

AARCH64 = {  # the generic table (asm-generic/unistd.h)
    "lookup_dcookie": 18,
    "umount2": 39,
    "mount": 40,
    "pivot_root": 41,
    "nfsservctl": 42,
    "chroot": 51,
    "vhangup": 58,
    "quotactl": 60,
    "acct": 89,
    "personality": 92,
    "unshare": 97,
    "kexec_load": 104,
    "init_module": 105,
    "delete_module": 106,
    "clock_settime": 112,
    "syslog": 116,
    "ptrace": 117,
    "reboot": 142,
    "sethostname": 161,
    "setdomainname": 162,
    "settimeofday": 170,
    "adjtimex": 171,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "clone": 220,
    "swapon": 224,
    "swapoff": 225,
    "perf_event_open": 241,
    "fanotify_init": 262,
    "name_to_handle_at": 264,
    "open_by_handle_at": 265,
    "clock_adjtime": 266,
    "setns": 268,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "finit_module": 273,
    "bpf": 280,
    "userfaultfd": 282,
    "kexec_file_load": 294,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "open_tree_attr": 467,
}


@dataclass(frozen=True)
class Architecture:
    audit_arch: int  # seccomp_data.arch of this ABI
    numbers: dict[str, int]
    x32_bit: int | None  # a second ABI in the same arch value, told apart by a bit of nr


ARCHITECTURES = {
    "x86_64": Architecture(0xC000003E, X86_64, x32_bit=0x40000000),
    "aarch64": Architecture(0xC00000B7, AARCH64, x32_bit=None),
}


class SeccompUnavailable(Exception):
    """No filter for this architecture; the message names it."""


# ---------------------------------------------------------------------------------------------
# Classic BPF
# ---------------------------------------------------------------------------------------------

BPF_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at offset k
BPF_RET_K = 0x06  # BPF_RET | BPF_K: return k
BPF_JEQ, BPF_JGE, BPF_JSET = 0x15, 0x35, 0x45  # BPF_JMP | op | BPF_K: compare A with k

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM, ENOSYS = 1, 38  # Linux's values, whatever system builds the program

# Offsets in struct seccomp_data {int nr; u32 arch; u64 instruction_pointer; u64 args[6];}.
# Both architectures are little-endian, so an argument's low 32 bits come first.
NR, ARCH, ARG0_LOW = 0, 4, 16

NEXT = 0  # a jump target: the next instruction

# (code, jump if true, jump if false, k); a jump's target is NEXT or a label, a str that
# stands in the program's list just before the instruction it names.
Instruction = tuple[int, "str | int", "str | int", int]


def load(offset: int) -> Instruction:
    return (BPF_LD_W_ABS, NEXT, NEXT, offset)


def jump(op: int, k: int, true: str | int = NEXT, false: str | int = NEXT) -> Instruction:
    return (op, true, false, k)


def ret(action: int) -> Instruction:
    return (BPF_RET_K, NEXT, NEXT, action)


def assemble(items: list) -> bytes:
    """The struct sock_filter array of `items`, labels resolved to forward jump offsets."""
    instructions = [item for item in items if not isinstance(item, str)]
    labels, position = {}, 0
    for item in items:
        if isinstance(item, str):
            labels[item] = position
        else:
            position += 1

    def offset(target: str | int, pc: int) -> int:
        if target == NEXT:
            return 0
        distance = labels[target] - pc - 1
        if not 0 <= distance <= 255:
            raise ValueError(f"seccomp: jump from {pc} to {target!r} is out of reach ({distance})")
        return distance

    return b"".join(
        struct.pack("=HBBI", code, offset(true, pc), offset(false, pc), k)
        for pc, (code, true, false, k) in enumerate(instructions)
    )


# ---------------------------------------------------------------------------------------------
# The program
# ---------------------------------------------------------------------------------------------


def filter_program(machine: str | None = None) -> bytes:
    """The seccomp program for `machine` (`platform.machine()` by default), as struct sock_filter bytes."""
    machine = machine or platform.machine()
    arch = ARCHITECTURES.get(machine)
    if arch is None:
        raise SeccompUnavailable(f"seccomp: no system call table for {machine!r} (only {', '.join(ARCHITECTURES)})")
    numbers = arch.numbers
    items: list = [load(ARCH), jump(BPF_JEQ, arch.audit_arch, false="kill"), load(NR)]
    if arch.x32_bit is not None:
        items.append(jump(BPF_JGE, arch.x32_bit, true="deny"))
    items += [
        jump(BPF_JEQ, numbers["clone"], true="clone"),
        jump(BPF_JEQ, numbers["clone3"], true="enosys"),
        jump(BPF_JEQ, numbers["personality"], true="personality"),
    ]
    items += [jump(BPF_JEQ, numbers[name], true="deny") for name in DENIED if name in numbers]
    items += [
        ret(SECCOMP_RET_ALLOW),
        "clone",
        load(ARG0_LOW),
        jump(BPF_JSET, NAMESPACE_FLAGS, true="deny", false="allow"),
        "personality",
        load(ARG0_LOW),
        jump(BPF_JEQ, PER_LINUX, true="allow"),
        jump(BPF_JEQ, PER_QUERY, true="allow", false="deny"),
        "allow",
        ret(SECCOMP_RET_ALLOW),
        "deny",
        ret(SECCOMP_RET_ERRNO | EPERM),
        "enosys",
        ret(SECCOMP_RET_ERRNO | ENOSYS),
        "kill",
        ret(SECCOMP_RET_KILL_PROCESS),
    ]
    return assemble(items)
