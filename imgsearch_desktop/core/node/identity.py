"""Who is who, asked of the kernel: is this pid our node, does our node hold this listening port.

A pid from a file is only a hint (pids are reused; the files can be stale or written by the node's user), and a
listener answering HTTP on a port says nothing about who it is. Proof here is what the kernel reports: a process's
user and command line (``/proc/PID/status``, ``/proc/PID/cmdline``; ``ps`` elsewhere), and which process holds the
socket listening on 127.0.0.1:PORT (``/proc/net/tcp*`` inode ↔ ``/proc/PID/fd``). A process is signalled through a
pidfd opened *before* the proof, so a pid reused in between cannot receive the signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TCP_LISTEN = "0A"
# Local addresses whose listener receives a connection made to 127.0.0.1 (a dual-stack :: socket does too).
LOOPBACK_REACHING = {"127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0"}


def has_proc() -> bool:
    """Linux /proc with per-process and per-socket tables (elsewhere: ``ps`` and the cluster-UUID fallback)."""
    return sys.platform.startswith("linux") and (PROC / "self" / "status").exists() and (PROC / "net" / "tcp").exists()


@dataclass(frozen=True)
class ProcInfo:
    real_uid: int
    effective_uid: int
    args: tuple[str, ...]


def process_info(pid: int) -> ProcInfo | None:
    """The user and argument vector of a live process, or None (gone, a zombie, or not visible)."""
    if pid <= 0:
        return None
    if has_proc():
        return _proc_info(pid)
    if os.name == "posix":
        return _ps_info(pid)
    return _windows_info(pid)


def _proc_info(pid: int) -> ProcInfo | None:
    try:
        status = (PROC / str(pid) / "status").read_text()
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    uids = next((line.split()[1:3] for line in status.splitlines() if line.startswith("Uid:")), None)
    if not uids or not raw:  # a zombie has an empty command line
        return None
    args = tuple(os.fsdecode(a) for a in raw.rstrip(b"\0").split(b"\0"))
    return ProcInfo(int(uids[0]), int(uids[1]), args)


def _ps_info(pid: int) -> ProcInfo | None:
    """macOS/BSD: ``ps`` prints args space-joined, so a path with spaces is matched as a substring there."""
    try:
        out = subprocess.run(["ps", "-ww", "-o", "ruid=,uid=,args=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.split(None, 2)
    if len(parts) < 3 or "<defunct>" in parts[2]:
        return None
    return ProcInfo(int(parts[0]), int(parts[1]), (parts[2],))


def _windows_info(pid: int) -> ProcInfo | None:
    """Windows: the command line from CIM; no uids (the node runs as the user, see current_uid)."""
    query = f"(Get-CimInstance Win32_Process -Filter 'ProcessId={int(pid)}').CommandLine"
    try:
        out = subprocess.run(["powershell", "-NoProfile", "-NonInteractive", "-Command", query],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ProcInfo(-1, -1, (out,)) if out else None


def current_uid() -> int:
    """Our effective uid (-1 on Windows, which has none: there ``process_info`` reports -1 too)."""
    return os.geteuid() if hasattr(os, "geteuid") else -1


def is_node_process(pid: int, marks: Collection[str], uid: int) -> bool:
    """``pid`` runs as ``uid`` (real and effective) with one of ``marks`` (``-Des.path.home=HOME``) in its argv."""
    info = process_info(pid)
    if info is None or (info.real_uid, info.effective_uid) != (uid, uid):
        return False
    if len(info.args) == 1 and not has_proc():  # ps / CIM: one joined string, maybe with quotes
        line = f" {info.args[0]} "
        return any(f"{m}{end}" in line for m in marks for end in (" ", '"'))
    return any(m in info.args for m in marks)


def find_node_processes(marks: Collection[str], uid: int) -> list[int]:
    """Every live process proven to be the node (Linux: a scan of /proc; elsewhere none are found this way)."""
    if not has_proc():
        return []
    pids = (int(p.name) for p in PROC.iterdir() if p.name.isdigit())
    return sorted(pid for pid in pids if is_node_process(pid, marks, uid))


def signal_if(pid: int, sig: int, proof: Callable[[int], bool]) -> bool:
    """Send ``sig`` to ``pid`` only while ``proof(pid)`` holds; the pidfd pins the process across the check."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:  # no pidfd (macOS, old kernels): the smallest window we can get
        if not proof(pid):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            return True
        return False
    try:
        fd = opener(pid)
    except OSError:  # gone already, or not ours to see
        return False
    try:
        if not proof(pid):
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:  # the proven process exited meanwhile: nothing to do
        return False
    finally:
        os.close(fd)


def wait_gone(pids: Iterable[int], still: Callable[[int], bool], timeout: float) -> list[int]:
    """Wait until ``still(pid)`` is false for all; returns those still there at the deadline."""
    left = list(pids)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in left if still(p)]
    return left


# ---------------------------------------------------------------- sockets
def _address(hex_addr: str) -> str:
    """/proc/net/tcp prints each 32-bit word of the address in host byte order."""
    raw = b"".join(struct.pack("=I", int(hex_addr[i:i + 8], 16)) for i in range(0, len(hex_addr), 8))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


@dataclass(frozen=True)
class Listener:
    address: str
    uid: int
    inode: int


def loopback_listeners(port: int) -> list[Listener]:
    """Every LISTEN socket that would accept a connection to 127.0.0.1:``port``."""
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hex_port = fields[1].rsplit(":", 1)
            if fields[3] != TCP_LISTEN or int(hex_port, 16) != port:
                continue
            address = _address(addr)
            if address in LOOPBACK_REACHING:
                found.append(Listener(address, int(fields[7]), int(fields[9])))
    return found


def socket_inodes(pid: int) -> set[int] | None:
    """Inodes of the sockets ``pid`` holds; None when its fd table cannot be read (no CAP_SYS_PTRACE)."""
    inodes = set()
    try:
        fds = os.listdir(PROC / str(pid) / "fd")
    except PermissionError:
        return None
    except OSError:
        return set()
    for fd in fds:
        with contextlib.suppress(OSError):
            target = os.readlink(PROC / str(pid) / "fd" / fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def port_held_by(port: int, pids: Collection[int], uid: int) -> bool:
    """Whether every listener reachable at 127.0.0.1:``port`` is a socket one of ``pids`` holds.

    Where the fd tables are unreadable (root in a container without CAP_SYS_PTRACE), a listener created by the
    node's own dedicated user (the socket's uid in /proc/net/tcp) is accepted instead.
    """
    listeners = loopback_listeners(port)
    if not listeners or not pids:
        return False
    held: set[int] = set()
    for pid in pids:
        inodes = socket_inodes(pid)
        if inodes is None:
            return all(lst.uid == uid for lst in listeners)
        held |= inodes
    return all(lst.inode in held for lst in listeners)
