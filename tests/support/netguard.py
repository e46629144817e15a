"""Run commands so that every attempt to leave 127.0.0.1 is recorded (see tests/test_network.py)."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support.commands import subprocess_env
from tests.support.jsonl import read_jsonl

# the folder whose sitecustomize.py installs the Python-level guard in every process started with it
NETGUARD_DIR = Path(__file__).resolve().parent.parent / "netguard"


def _is_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host in {"localhost"}
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _strace_usable() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-o", os.devnull, "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


class NetGuard:
    """Runs commands so that every attempt to leave 127.0.0.1 is recorded.

    Two layers: ``tests/netguard/sitecustomize.py`` refuses and logs any Python-level connect,
    sendto or name lookup of a non-loopback host (in the process and its Python children), and,
    when it works here, ``strace -f`` logs every connect/sendto/sendmsg system call, which also
    catches native code (llama.cpp, Chroma's Rust core, tokenizers).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "attempts.jsonl"
        self.strace = _strace_usable()
        self._n = 0

    def command(self, argv: list[str]) -> list[str]:
        if not self.strace:
            return argv
        self._n += 1
        out = self.folder / f"strace.{self._n}.txt"
        return ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-e", "signal=none",
                "-o", str(out), *argv]

    def env(self, **extra: str) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(NETGUARD_DIR), os.environ.get("PYTHONPATH", "")) if p)
        return subprocess_env(PYTHONPATH=path, NETGUARD_LOG=str(self.log), **extra)

    def records(self) -> list[dict]:
        if not self.log.exists():
            return []
        return read_jsonl(self.log)

    def guarded_pids(self) -> set[int]:
        return {r["pid"] for r in self.records() if r["kind"] == "guard-installed"}

    def attempts(self) -> list[str]:
        """Every non-loopback attempt seen by either layer (AF_UNIX and loopback are fine)."""
        found = [f"{r['kind']} {r['target']} from {r['stack'][-3:]}" for r in self.records()
                 if r["kind"] != "guard-installed"]
        for trace in sorted(self.folder.glob("strace.*.txt")):
            for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
                hosts = re.findall(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"', line)
                for v4, v6 in hosts:
                    if not _is_loopback(v4 or v6):
                        found.append(f"{trace.name}: {line.strip()}")
        return found
