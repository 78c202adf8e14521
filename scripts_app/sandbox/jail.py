"""The OS jail around the script processes: defence in depth behind the RestrictedPython policy.

The zygote (`zygote.py`) enters the jail once, at start, before it forks any call; every call's process
inherits it (the zygote's own seccomp filter included) and adds a seccomp filter of its own right after the
fork. Layers, each tried on its own:

- `network`: a new network namespace (only a loopback interface, which is down): no network at all.
- `filesystem`: a new mount namespace whose root is an empty tmpfs holding read-only bind mounts of what a
  running interpreter needs (its own installation, the import path's site-packages, the system libraries,
  /etc/localtime, /dev/null and /dev/urandom), entered with chroot. The database, `var/`, the project's
  source and settings, /proc, /tmp and every other path are not there.
- `uid`: every group dropped and the uid / gid set to an unprivileged one (PATCHBAY_SCRIPT_UID, nobody by
  default), so that whatever a process could still reach, it reaches without the server's rights; it also
  makes the chroot inescapable (that needs CAP_SYS_CHROOT).
- `seccomp`: a filter (built with libseccomp through `pyseccomp`) that refuses, with EPERM, the system calls
  a script process never needs after it started: creating processes or threads, executing programs, sockets,
  ptrace and reading other processes' memory, mounting, namespaces, signals to other processes, changing
  ids, kernel modules, BPF, io_uring and the like. The zygote loads all of it but forking and killing
  once its start-up is done; each call's process inherits that and adds a two-rule filter refusing those
  two. It is a deny list on purpose: an allow list of what CPython and its C extensions may call is
  brittle across versions, and the layers above already bound what the allowed calls can reach.

Why these means: namespaces, chroot and setuid are the kernel's own and need no extra program (Python 3.11
has no `os.unshare`, so `unshare` and `mount` are called through ctypes in libc, as small and auditable as a
wrapper can be); libseccomp is the maintained way to build seccomp filters (it knows every architecture's
system call numbers) and `pyseccomp` is a thin ctypes binding to it with the API of libseccomp's own
Python module. Landlock would be an alternative for the filesystem layer; the mount namespace already
gives a stricter view (paths that are not there at all) wherever namespaces work.

A server that does not run as root first enters an unprivileged user namespace of its own (its uid and gid
mapped to 0 inside, nothing else mapped), where it may create the network and mount namespaces above; then
it drops every capability it holds there. Such a server's scripts get the network, filesystem and seccomp
layers; the `uid` layer stays inactive (they keep the server's uid, which only a root server can change) and
says so. Where the kernel refuses unprivileged user namespaces, the two layers are reported inactive.

A layer the platform refuses is reported as inactive with the reason (the pool logs a warning and
/healthz lists it); the other layers still apply. PATCHBAY_SCRIPT_JAIL=off turns every layer off,
`required` refuses to start scripts unless every layer is active.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
LINUX_CAPABILITY_VERSION_3 = 0x20080522
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4

LAYERS = ("network", "filesystem", "uid", "seccomp")
NOBODY = 65534

# System calls a script process is refused (EPERM; clone3 gets ENOSYS so that libc falls back to clone,
# which is refused too). Names the running kernel or libseccomp does not know are skipped.
DENIED_SYSCALLS = [
    "fork",
    "vfork",
    "clone",
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "kill",
    "tkill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "capset",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "sethostname",
    "setdomainname",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "quotactl",
    "syslog",
    "personality",
    "iopl",
    "ioperm",
    "mknod",
    "mknodat",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "lookup_dcookie",
    "uselib",
    "vhangup",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
]


@dataclass
class Layer:
    active: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"active": self.active, "detail": self.detail}


@dataclass
class JailReport:
    layers: dict[str, Layer] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {name: layer.as_dict() for name, layer in self.layers.items()}


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, options: str | None = None
) -> None:
    def encode(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    _check(
        _libc.mount(encode(source), encode(target), encode(fstype), flags, encode(options)),
        f"mount {target}",
    )


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), "prctl")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets of this process (for good: nothing
    is executed afterwards that could gain them back)."""
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def enter_user_namespace() -> None:
    """A server that does not run as root: a user namespace of its own, in which this process is root (its
    own uid and gid mapped to 0, nothing else mapped) and so may create the network and mount namespaces of
    the jail. Its rights outside stay the server user's; `drop_capabilities` ends those inside."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as control:
            control.write(text)


# --- The filesystem view ------------------------------------------------------------------------------------


def visible_paths() -> list[str]:
    """What the jailed interpreter may read: its installation, its import path, the system libraries."""
    paths = {sys.base_prefix, sys.prefix, "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo"}
    paths.update(entry for entry in sys.path if entry and os.path.isdir(entry))
    return sorted(path for path in paths if os.path.exists(path))


def _build_root(root: str, sources: Iterable[str], hidden: Iterable[str]) -> None:
    hidden_real = [os.path.realpath(path) for path in hidden]

    # Bind sources by an O_PATH descriptor opened before the tmpfs covers anything.
    def inside(path: str, others: Iterable[str]) -> bool:
        return any(path == other or path.startswith(other.rstrip("/") + "/") for other in others)

    bound: list[str] = []
    for real in sorted({os.path.realpath(source) for source in sources}):
        if inside(real, hidden_real):
            continue  # a source inside a hidden path (a virtualenv inside var/, say) stays hidden
        if inside(real, bound):
            continue  # already visible through a bind mount of a directory above it
        bound.append(real)
    # Checked before anything is mounted: a layer that cannot hide what it must is not entered at all.
    exposed = [path for path in hidden_real if os.path.exists(path) and inside(path, bound)]
    if exposed:
        raise OSError(errno.EEXIST, f"{', '.join(exposed)} would be visible (inside {', '.join(bound)})")
    handles = [(real, os.open(real, os.O_PATH | os.O_CLOEXEC)) for real in bound]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for real, handle in handles:
        target = root + real
        is_dir = os.path.isdir(f"/proc/self/fd/{handle}")
        if is_dir:
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w"):
                pass
        mount(f"/proc/self/fd/{handle}", target, None, MS_BIND | MS_REC)
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
        if not real.startswith("/dev/"):
            flags |= MS_NODEV
        mount(None, target, None, flags)
        os.close(handle)
    # Compatibility links of a merged-/usr system (/bin -> usr/bin and the like) are not needed: nothing
    # is executed in the jail.
    mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _enter_filesystem_view(hidden: Iterable[str]) -> Layer:
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # The new root is a tmpfs mounted, inside this private mount namespace only, over /tmp (or /mnt).
    root = "/tmp" if os.path.isdir("/tmp") else "/mnt"  # noqa: S108 - not a temporary file
    sources = [*visible_paths(), "/etc/localtime", "/dev/null", "/dev/urandom", "/dev/zero"]
    _build_root(root, [s for s in sources if os.path.exists(s)], hidden)
    os.chroot(root)
    os.chdir("/")
    still_there = [path for path in hidden if os.path.exists(path)]
    if still_there:
        raise OSError(errno.EEXIST, f"still visible: {', '.join(still_there)}")
    return Layer(True, "mount namespace with a read-only view of the interpreter and system libraries only")


def enter_jail(*, mode: str, uid: int, hidden: list[str]) -> JailReport:
    """Enter the namespaces, the filesystem view and the unprivileged uid (in that order: the first two
    need root). Each layer that fails is reported and skipped."""
    report = JailReport()
    if mode == "off":
        for name in LAYERS:
            report.layers[name] = Layer(False, "turned off (PATCHBAY_SCRIPT_JAIL=off)")
        return report
    is_root = os.geteuid() == 0
    outer_uid = os.getuid()
    in_user_namespace = False
    hint = ""
    if not is_root:
        # Unprivileged user namespaces give a non-root server the network and filesystem layers too.
        try:
            enter_user_namespace()
            in_user_namespace = True
        except OSError as exc:
            hint = f" (the server does not run as root and has no user namespace: {exc})"
    try:
        unshare(CLONE_NEWNET)
        names = [name for _, name in socket.if_nameindex()]
        if names != ["lo"]:
            raise OSError(errno.EEXIST, f"interfaces still present: {', '.join(names)}")
        report.layers["network"] = Layer(True, "network namespace with no interface up")
    except OSError as exc:
        report.layers["network"] = Layer(False, f"no network namespace: {exc}{hint}")
    try:
        unshare(CLONE_NEWNS)
        report.layers["filesystem"] = _enter_filesystem_view(hidden)
    except OSError as exc:
        report.layers["filesystem"] = Layer(False, f"no filesystem view of its own: {exc}{hint}")
    if in_user_namespace:
        try:
            drop_capabilities()
            detail = (
                f"runs as the server's uid {outer_uid} in a user namespace of its own with no capabilities"
                " (an unprivileged uid of its own needs a server that runs as root)"
            )
        except OSError as exc:
            detail = f"runs as the server's uid {outer_uid}; its capabilities could not be dropped: {exc}"
        report.layers["uid"] = Layer(False, detail)
        return report
    try:
        if not is_root:
            raise OSError(errno.EPERM, "the server does not run as root, so scripts keep its uid")
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise OSError(errno.EEXIST, "the process could become root again")
        report.layers["uid"] = Layer(True, f"uid and gid {uid}, no supplementary groups")
    except OSError as exc:
        report.layers["uid"] = Layer(False, f"runs as uid {os.getuid()}: {exc}")
    return report


# --- seccomp ------------------------------------------------------------------------------------------------


class _SockFilterProgram(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


# What the zygote itself still does once it started: fork the calls' processes (glibc's fork is the clone
# system call) and kill those past their wall time. The zygote's own filter refuses everything else of
# DENIED_SYSCALLS; each call's process adds a filter that refuses these two as well.
ZYGOTE_SYSCALLS = ("clone", "kill")


@dataclass
class SeccompFilters:
    """`load_zygote` (called once by the zygote, after its start-up work) and `load_call` (called by each
    call's process right after the fork, on top of the zygote's filter, which it inherits). Together they
    refuse every name of DENIED_SYSCALLS (EPERM) and clone3 (ENOSYS)."""

    load_zygote: Callable[[], None]
    load_call: Callable[[], None]


def _bpf_program(seccomp: Any, denied: Iterable[str], *, enosys: Iterable[str]) -> tuple[Any, list[str]]:
    """The finished BPF program (its bytes, exported by libseccomp) of a filter that allows everything but
    `denied` (EPERM) and `enosys` (ENOSYS); and the names the running kernel or libseccomp does not know."""
    skipped = []
    seccomp_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in denied:
        try:
            seccomp_filter.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):
            skipped.append(name)
    for name in enosys:
        try:
            seccomp_filter.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        except (ValueError, RuntimeError, OSError):
            skipped.append(name)
    read_end, write_end = os.pipe()
    try:

        class _Pipe:
            def fileno(self) -> int:
                return write_end

        seccomp_filter.export_bpf(_Pipe())
        os.close(write_end)
        write_end = -1
        chunks = []
        while chunk := os.read(read_end, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    return b"".join(chunks), skipped


def _loader(program_bytes: bytes) -> Callable[[], None]:
    instructions = ctypes.create_string_buffer(program_bytes, len(program_bytes))
    program = _SockFilterProgram(len(program_bytes) // 8, ctypes.addressof(instructions))

    def load() -> None:
        _keep = instructions  # the program's instructions must live as long as the filter may be loaded
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(
            _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(program), 0, 0),
            "seccomp",
        )
        del _keep

    return load


def build_seccomp_filter() -> tuple[SeccompFilters | None, Layer]:
    """The zygote's and the call processes' filters, or None with the reason.

    libseccomp builds both BPF programs once, here; each call's process only hands the finished program to
    the kernel. The call's own program is two rules: the kernel's cost of attaching a filter grows with
    its length (it checks the program and precomputes which system calls it always allows), and the long
    list is already in force in the zygote, whose filter every call's process inherits.
    """
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError, RuntimeError) as exc:  # pyseccomp raises RuntimeError without libseccomp
        return None, Layer(False, f"libseccomp is not available: {exc}")
    try:
        zygote_denied = [name for name in DENIED_SYSCALLS if name not in ZYGOTE_SYSCALLS]
        zygote_program, skipped = _bpf_program(seccomp, zygote_denied, enosys=["clone3"])
        call_program, call_skipped = _bpf_program(seccomp, ZYGOTE_SYSCALLS, enosys=[])
    except (RuntimeError, OSError, ValueError) as exc:
        return None, Layer(False, f"the seccomp filter cannot be built: {exc}")
    if call_skipped:
        return None, Layer(False, f"the seccomp filter cannot refuse {', '.join(call_skipped)}")
    filters = SeccompFilters(load_zygote=_loader(zygote_program), load_call=_loader(call_program))
    detail = f"{len(DENIED_SYSCALLS) + 1 - len(skipped)} system calls refused"
    return filters, Layer(True, detail)


def harden_call_process() -> None:
    """Right after the fork: die with the zygote, and let no other process (same uid) attach to or read
    this one."""
    prctl(PR_SET_PDEATHSIG, 9)
    prctl(PR_SET_DUMPABLE, 0)
