"""The seccomp filter of submitted code, on the real kernel: each refused call is made by a forked
child with the filter and by one without it (as root, like the grader), and what a notebook
needs (threads, subprocesses, numpy, matplotlib, IPython, scikit-learn) still works under it."""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import platform
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from errno import EINVAL, ENOSYS, EPERM
from typing import Any

import pytest

from grading.sandbox.inside.confine import install_filter
from grading.sandbox.seccomp import (
    AARCH64,
    ARCHITECTURES,
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    DENIED,
    X86_64,
    SeccompUnavailable,
    filter_program,
)

MACHINE = platform.machine()
if sys.platform != "linux":
    pytest.skip("seccomp is a Linux facility", allow_module_level=True)
if MACHINE not in ARCHITECTURES:
    pytest.skip(f"no seccomp filter for {MACHINE}", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip(
        "each call is compared with the same call without the filter as root, like the grader", allow_module_level=True
    )

PROGRAM = filter_program()
NUMBERS = ARCHITECTURES[MACHINE].numbers
CHILD_SECONDS = 120

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long

AT_FDCWD = -100
SIGCHLD = int(signal.SIGCHLD)


# ---------------------------------------------------------------------------------------------
# Helpers: system calls, and a forked child with or without the filter
# ---------------------------------------------------------------------------------------------


def syscall(name: str | int, *args: Any) -> int:
    """Make a system call (ints, or ctypes objects for pointers): its result, or minus its errno."""
    number = NUMBERS[name] if isinstance(name, str) else name
    ctypes.set_errno(0)
    result = LIBC.syscall(ctypes.c_long(number), *(ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args))
    return -ctypes.get_errno() if result == -1 else result


def text(value: str) -> ctypes.c_char_p:
    return ctypes.c_char_p(value.encode())


def zeros(size: int) -> ctypes.Array:
    return ctypes.create_string_buffer(size)


def child_outcome(call: Callable[[], Any], confined: bool, setup: Callable[[], None] | None = None) -> dict:
    """How `call()` ends in a forked child, with the filter installed (after `setup()`) or not:
    {"result": what it returned}, {"error": ...}, {"signal": n} or {"status": n}."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                if setup:
                    setup()
                if confined:
                    install_filter(PROGRAM)
                reply = {"result": call()}
            except BaseException as error:
                reply = {"error": f"{type(error).__name__}: {error}"}
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(json.dumps(reply).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = _read_until_closed(read_end, pid)
    _, status = os.waitpid(pid, 0)
    if data:
        return json.loads(data)
    return {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"status": os.WEXITSTATUS(status)}


def _read_until_closed(fd: int, pid: int) -> bytes:
    chunks, deadline = [], time.monotonic() + CHILD_SECONDS
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                return b""
            chunk = pipe.read(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def returned(call: Callable[[], Any], confined: bool = True, setup: Callable[[], None] | None = None) -> Any:
    """What `call()` returned in a forked child; the test fails if it ended any other way."""
    outcome = child_outcome(call, confined, setup)
    assert "result" in outcome, f"the child ended with {outcome}"
    return outcome["result"]


def assert_refused(
    calls: dict[str, Callable[[], int]], setup: Callable[[], None] | None = None, errno: int = EPERM
) -> None:
    """Each call fails with `errno` under the filter, and ends otherwise without it."""
    wrong = {}
    for name, call in calls.items():
        filtered, unfiltered = returned(call, True, setup), returned(call, False, setup)
        if filtered != -errno or unfiltered == -errno:
            wrong[name] = {"with the filter": filtered, "without": unfiltered}
    assert not wrong, f"expected -{errno} with the filter only: {wrong}"


def available(calls: dict[str, Callable[[], int]]) -> dict[str, Callable[[], int]]:
    """The calls (named as in the kernel) that this architecture has."""
    return {name: call for name, call in calls.items() if name in NUMBERS}


def raw_clone(flags: int) -> int:
    """clone() with `flags` and SIGCHLD; the new process exits at once. Its pid, or minus errno."""
    pid = syscall("clone", flags | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return pid


def ok(result: int) -> None:
    """Raise a failed call's errno (in a child's setup, which must not go on without it)."""
    if result < 0:
        raise OSError(-result, os.strerror(-result))


# ---------------------------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------------------------


def test_a_new_user_namespace_is_refused():
    assert_refused({"unshare(CLONE_NEWUSER)": lambda: syscall("unshare", CLONE_NEWUSER)})


@pytest.mark.parametrize(
    "flag",
    [CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET],
    ids=["NEWNS", "NEWCGROUP", "NEWUTS", "NEWIPC", "NEWUSER", "NEWPID", "NEWNET"],
)
def test_clone_into_a_new_namespace_is_refused(flag):
    assert_refused({f"clone({flag:#x})": lambda: raw_clone(flag)})


def test_clone_without_namespace_flags_is_allowed():
    assert returned(lambda: raw_clone(0)) > 0


def test_clone3_answers_enosys_so_that_glibc_falls_back_to_clone():
    assert_refused({"clone3(NULL, 0)": lambda: syscall("clone3", 0, 0)}, errno=ENOSYS)


def test_joining_another_namespace_is_refused():
    def join_own_uts_namespace() -> int:
        return syscall("setns", os.open("/proc/self/ns/uts", os.O_RDONLY), CLONE_NEWUTS)

    assert_refused({"setns": join_own_uts_namespace})


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs the unshare command (util-linux)")
def test_the_unshare_command_cannot_make_a_user_namespace():
    def unshare_user() -> list:
        done = subprocess.run(["unshare", "--user", "true"], capture_output=True, text=True)
        return [done.returncode, done.stderr]

    assert returned(unshare_user, confined=False) == [0, ""]
    code, message = returned(unshare_user)
    assert code != 0 and "Operation not permitted" in message


# ---------------------------------------------------------------------------------------------
# Other processes
# ---------------------------------------------------------------------------------------------


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _copy_own_memory(name: str) -> int:
    source, target = ctypes.create_string_buffer(b"grades", 8), zeros(8)
    local, remote = IoVec(ctypes.addressof(target), 8), IoVec(ctypes.addressof(source), 8)
    return syscall(name, os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)


def test_tracing_and_reaching_into_processes_is_refused():
    pid = os.getpid
    assert_refused(
        {
            "ptrace(PTRACE_TRACEME)": lambda: syscall("ptrace", 0, 0, 0, 0),
            "process_vm_readv": lambda: _copy_own_memory("process_vm_readv"),
            "process_vm_writev": lambda: _copy_own_memory("process_vm_writev"),
            "kcmp(KCMP_FILE)": lambda: syscall("kcmp", pid(), pid(), 0, 0, 0),
            "pidfd_getfd": lambda: syscall("pidfd_getfd", os.pidfd_open(pid()), 0, 0),
            "process_madvise(MADV_COLD)": lambda: syscall(
                "process_madvise", os.pidfd_open(pid()), ctypes.byref(IoVec(0, 0)), 1, 20, 0
            ),
        }
    )


# ---------------------------------------------------------------------------------------------
# Kernel programs, probes, keyrings, userfaultfd, io_uring
# ---------------------------------------------------------------------------------------------


def _bpf_array_map() -> int:
    attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY, 4-byte keys and values, 1 entry
    return syscall("bpf", 0, attr, ctypes.sizeof(attr))  # BPF_MAP_CREATE


def _task_clock_counter() -> int:
    attr = (ctypes.c_uint32 * 32)()
    attr[0], attr[1], attr[2] = 1, ctypes.sizeof(attr), 1  # PERF_TYPE_SOFTWARE, size, PERF_COUNT_SW_TASK_CLOCK
    attr[10] = 0b1100001  # disabled, exclude_kernel, exclude_hv
    return syscall("perf_event_open", attr, 0, -1, -1, 0)  # this process, any CPU


def test_kernel_programs_and_probes_are_refused():
    assert_refused(
        {
            "bpf(BPF_MAP_CREATE)": _bpf_array_map,
            "perf_event_open(task clock)": _task_clock_counter,
            "fanotify_init": lambda: syscall("fanotify_init", 0, os.O_RDONLY),
            "lookup_dcookie": lambda: syscall("lookup_dcookie", 0, 0, 0),
        }
    )


def test_kernel_keyrings_are_refused():
    key_spec_process_keyring, key_spec_user_keyring = -2, -4
    assert_refused(
        {
            "keyctl(KEYCTL_GET_KEYRING_ID)": lambda: syscall("keyctl", 0, key_spec_user_keyring, 0),
            "add_key": lambda: syscall(
                "add_key", text("user"), text("course-test"), text("x"), 1, key_spec_process_keyring
            ),
            "request_key": lambda: syscall("request_key", text("user"), text("course-test-absent"), 0, 0),
        }
    )


def test_userfaultfd_and_io_uring_are_refused():
    assert_refused(
        {
            "userfaultfd": lambda: syscall("userfaultfd", os.O_CLOEXEC),
            "io_uring_setup": lambda: syscall("io_uring_setup", 1, zeros(120)),
            "io_uring_enter": lambda: syscall("io_uring_enter", -1, 0, 0, 0, 0, 0),
            "io_uring_register": lambda: syscall("io_uring_register", -1, 0, 0, 0),
        }
    )


# ---------------------------------------------------------------------------------------------
# Mounts, file handles, modules, the machine's settings
# ---------------------------------------------------------------------------------------------


def test_mounts_are_refused(tmp_path):
    target = str(tmp_path)

    def private_mount_namespace_with_a_tmpfs() -> None:
        ok(syscall("unshare", CLONE_NEWNS))
        ok(syscall("mount", text("none"), text("/"), 0, 0x4000 | 0x40000, 0))  # MS_REC | MS_PRIVATE
        ok(syscall("mount", text("none"), text(target), text("tmpfs"), 0, text("size=1m")))

    assert_refused(
        {
            "mount": lambda: syscall("mount", text("none"), text(target), text("tmpfs"), 0, 0),
            "umount2": lambda: syscall("umount2", text(target), 2),  # MNT_DETACH
            "pivot_root": lambda: syscall("pivot_root", text(target), text(target)),
            "chroot": lambda: syscall("chroot", text("/")),
            "fsopen": lambda: syscall("fsopen", text("tmpfs"), 1),  # FSOPEN_CLOEXEC
            "fspick": lambda: syscall("fspick", AT_FDCWD, text(target), 1),  # FSPICK_CLOEXEC
            "fsconfig": lambda: syscall("fsconfig", -1, 0, 0, 0, 0),
            "fsmount": lambda: syscall("fsmount", -1, 0, 0),
            "open_tree": lambda: syscall("open_tree", AT_FDCWD, text(target), 1),  # OPEN_TREE_CLONE
            "open_tree_attr": lambda: syscall("open_tree_attr", AT_FDCWD, text(target), 1, 0, 0),
            "move_mount": lambda: syscall("move_mount", AT_FDCWD, text(target), AT_FDCWD, text(target), 0),
            "mount_setattr": lambda: syscall("mount_setattr", AT_FDCWD, text(target), 0, zeros(32), 32),
        },
        setup=private_mount_namespace_with_a_tmpfs,
    )


def test_opening_files_by_handle_is_refused():
    handle = (ctypes.c_uint32 * 4)()  # handle_bytes 0: the kernel says how many it needs
    mount_id = ctypes.c_int()
    assert_refused(
        {
            "name_to_handle_at": lambda: syscall(
                "name_to_handle_at", AT_FDCWD, text("/"), handle, ctypes.byref(mount_id), 0
            ),
            "open_by_handle_at": lambda: syscall("open_by_handle_at", -1, handle, 0),
        }
    )


def test_kernel_modules_and_replacement_kernels_are_refused():
    assert_refused(
        {
            "finit_module": lambda: syscall("finit_module", -1, text(""), 0),
            "delete_module": lambda: syscall("delete_module", text("no_such_course_module"), os.O_NONBLOCK),
            "kexec_file_load": lambda: syscall("kexec_file_load", -1, -1, 0, 0, 0),
        }
    )


def test_settings_of_the_whole_machine_are_refused():
    timex = zeros(256)  # struct timex with modes 0: read the clock's state, change nothing
    assert_refused(
        {
            "syslog(SYSLOG_ACTION_SIZE_BUFFER)": lambda: syscall("syslog", 10, 0, 0),
            "settimeofday(NULL, NULL)": lambda: syscall("settimeofday", 0, 0),
            "clock_settime(CLOCK_MONOTONIC)": lambda: syscall("clock_settime", 1, zeros(16)),
            "adjtimex": lambda: syscall("adjtimex", timex),
            "clock_adjtime": lambda: syscall("clock_adjtime", 0, timex),
            "swapon": lambda: syscall("swapon", text("/nonexistent-swap"), 0),
            "swapoff": lambda: syscall("swapoff", text("/nonexistent-swap")),
            "acct": lambda: syscall("acct", text("/nonexistent-dir/acct")),
            "quotactl(Q_GETFMT)": lambda: syscall("quotactl", 0x800004 << 8, text("/nonexistent-dev"), 0, zeros(4)),
            "quotactl_fd(Q_GETFMT)": lambda: syscall(
                "quotactl_fd", os.open("/", os.O_RDONLY), 0x800004 << 8, 0, zeros(4)
            ),
        }
    )


def test_host_and_domain_names_are_refused():
    def private_uts_namespace() -> None:
        ok(syscall("unshare", CLONE_NEWUTS))

    assert_refused(
        {
            "sethostname": lambda: syscall("sethostname", text("student"), 7),
            "setdomainname": lambda: syscall("setdomainname", text("student"), 7),
        },
        setup=private_uts_namespace,
    )


def test_hardware_ports_and_obsolete_calls_are_refused():
    assert_refused(
        available(
            {
                "iopl": lambda: syscall("iopl", 0),
                "ioperm": lambda: syscall("ioperm", 0, 0, 0),
                "uselib": lambda: syscall("uselib", text("/nonexistent-lib")),
                "sysfs": lambda: syscall("sysfs", 3),
                "ustat": lambda: syscall("ustat", 0, zeros(64)),
                "_sysctl": lambda: syscall("_sysctl", zeros(80)),
                "nfsservctl": lambda: syscall("nfsservctl", 0, 0, 0),
            }
        )
    )


def test_personality_may_be_read_but_not_changed():
    addr_no_randomize, per_linux, per_query = 0x0040000, 0, 0xFFFFFFFF
    assert_refused({"personality(ADDR_NO_RANDOMIZE)": lambda: syscall("personality", addr_no_randomize)})
    assert returned(lambda: syscall("personality", per_query)) >= 0
    assert returned(lambda: syscall("personality", per_linux)) >= 0


# ---------------------------------------------------------------------------------------------
# Other ABIs
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(MACHINE != "x86_64", reason="the x32 ABI is x86_64's")
def test_x32_system_calls_are_refused():
    x32_getpid = 0x40000000 | 39
    assert_refused({"getpid (x32)": lambda: syscall(x32_getpid)})


@pytest.mark.skipif(MACHINE != "x86_64", reason="int 0x80 is x86's 32-bit entry")
def test_a_32_bit_system_call_kills_the_process():
    def getpid_through_int_0x80() -> int:
        code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20 (i386 getpid); int 0x80; ret
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(code)
        return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()

    assert child_outcome(getpid_through_int_0x80, confined=False) != {"signal": signal.SIGSYS}
    assert child_outcome(getpid_through_int_0x80, confined=True) == {"signal": signal.SIGSYS}


def verdict(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """What `program` returns for a call, by an interpreter of the few instructions it uses."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    instructions, pc, a = list(struct.iter_unpack("=HBBI", program)), 0, 0
    while True:
        code, jt, jf, k = instructions[pc]
        pc += 1
        if code == 0x06:  # return k
            return k
        if code == 0x20:  # load a word of seccomp_data
            a = struct.unpack_from("=I", data, k)[0]
        else:
            pc += jt if {0x15: a == k, 0x35: a >= k, 0x45: a & k != 0}[code] else jf


@pytest.mark.parametrize("machine", sorted(ARCHITECTURES))
def test_the_program_of_each_architecture_refuses_the_same_calls(machine):
    arch = ARCHITECTURES[machine]
    numbers, program, allow, eperm = arch.numbers, filter_program(machine), 0x7FFF0000, 0x50000 | EPERM
    answers = {name: verdict(program, numbers[name], arch.audit_arch) for name in DENIED if name in numbers}
    assert answers == dict.fromkeys(answers, eperm)
    assert verdict(program, numbers["clone"], arch.audit_arch, SIGCHLD) == allow
    assert verdict(program, numbers["clone"], arch.audit_arch, CLONE_NEWUSER | SIGCHLD) == eperm
    assert verdict(program, numbers["clone3"], arch.audit_arch) == 0x50000 | ENOSYS
    assert verdict(program, numbers["personality"], arch.audit_arch, 0xFFFFFFFF) == allow
    assert verdict(program, numbers["personality"], arch.audit_arch, 0x0040000) == eperm
    assert verdict(program, 63, arch.audit_arch) == allow  # read (aarch64), readlink (x86_64)
    assert verdict(program, 63, 0x40000003) == 0x80000000  # i386: the process is killed


def test_every_refused_call_has_a_number():
    assert set(DENIED) <= set(X86_64) | set(AARCH64)


def test_there_is_no_filter_for_an_architecture_without_a_table():
    with pytest.raises(SeccompUnavailable, match="riscv64"):
        filter_program("riscv64")


# ---------------------------------------------------------------------------------------------
# What a notebook needs
# ---------------------------------------------------------------------------------------------


def test_threads_run_under_the_filter():
    def squares_in_threads() -> list:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda n: n * n, range(8)))

    assert returned(squares_in_threads) == [n * n for n in range(8)]


def test_a_subprocess_runs_under_the_filter():
    def python_subprocess() -> str:
        return subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True, text=True, check=True).stdout

    assert returned(python_subprocess) == "1\n"


def test_os_fork_works_under_the_filter():
    def fork_and_wait() -> int:
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert returned(fork_and_wait) == 7


def test_numpy_multiplies_matrices_under_the_filter():
    def matrix_product() -> float:
        import numpy as np

        a = np.arange(250_000, dtype=float).reshape(500, 500) / 250_000
        return float(np.trace(a @ a.T))

    assert returned(matrix_product) == pytest.approx(float(sum(x * x for x in range(250_000))) / 250_000**2)


NOTEBOOK_CELL = """
import io
import multiprocessing
import numpy as np
import matplotlib.pyplot as plt
from sklearn.ensemble import IsolationForest

X = np.random.default_rng(0).normal(size=(1000, 2))
labels = IsolationForest(n_estimators=50, n_jobs=2, random_state=0).fit(X).predict(X)
fig, ax = plt.subplots()
ax.scatter(X[:, 0], X[:, 1], c=labels)
png = io.BytesIO()
fig.savefig(png, format="png")
with multiprocessing.get_context("fork").Pool(2) as pool:
    squares = pool.map(abs, [-1, -2, -3])
answer = [int((labels == -1).sum()) > 0, png.getvalue()[:4] == b"\\x89PNG", squares]
"""


def test_a_notebook_cell_runs_under_the_filter(tmp_path):
    def run_cell() -> list:
        os.environ.update(IPYTHONDIR=str(tmp_path / "ipython"), MPLCONFIGDIR=str(tmp_path / "mpl"), MPLBACKEND="Agg")
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance()
        result = shell.run_cell(NOTEBOOK_CELL)
        if not result.success:
            raise RuntimeError(f"the cell failed: {result.error_before_exec or result.error_in_exec!r}")
        return shell.user_ns["answer"]

    assert returned(run_cell) == [True, True, [1, 2, 3]]


def test_the_filter_binds_only_a_single_threaded_process():
    def install_beside_a_thread() -> str:
        import threading

        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
        try:
            install_filter(PROGRAM)
        except RuntimeError as error:
            return str(error)
        finally:
            stop.set()
        return "installed"

    assert "threads run" in returned(install_beside_a_thread, confined=False)


def test_a_program_the_kernel_rejects_raises_its_errno():
    def install_an_unknown_instruction() -> int:
        try:
            install_filter(struct.pack("=HBBI", 0xFFFF, 0, 0, 0))
        except OSError as error:
            return error.errno
        return 0

    assert returned(install_an_unknown_instruction, confined=False) == EINVAL
