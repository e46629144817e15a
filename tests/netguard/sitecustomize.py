"""Network guard for processes started through NetGuard (tests/support/netguard.py); not part of the product.

The test puts this folder first on ``PYTHONPATH`` and sets ``NETGUARD_LOG``;
Python then imports this module at start-up in the process and in every Python
child it starts. Any attempt to reach a host other than loopback (connect,
connect_ex, sendto, or a name lookup of a non-local host) is written to the log
as one JSON line, with the calling stack, and refused with an OSError, so that
a library that quietly phones home is caught even when its failure is swallowed.
Unix sockets and loopback addresses pass untouched.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import traceback

LOG = os.environ.get("NETGUARD_LOG")
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


def _is_loopback_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: resolving it may already need the network
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _allowed(family: int, address: object) -> bool:
    if family == getattr(socket, "AF_UNIX", None) or isinstance(address, str | bytes):
        return True
    if isinstance(address, tuple) and address:
        return _is_loopback_host(address[0])
    return False


def _record(kind: str, target: object) -> None:
    stack = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_stack()[:-2]][-8:]
    with open(LOG, "a", encoding="utf-8") as f:  # type: ignore[arg-type]
        f.write(json.dumps({"pid": os.getpid(), "kind": kind, "target": repr(target), "stack": stack}) + "\n")


def _refuse(kind: str, target: object) -> OSError:
    _record(kind, target)
    return OSError(101, f"network access blocked by the test guard ({kind} {target!r})")  # ENETUNREACH


def _install() -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex

    def connect(self: socket.socket, address: object) -> None:
        if not _allowed(self.family, address):
            raise _refuse("connect", address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _allowed(self.family, address):
            _record("connect_ex", address)
            return 101
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: object) -> int:
        address = args[-1]
        if not _allowed(self.family, address):
            raise _refuse("sendto", address)
        return real_sendto(self, data, *args)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _is_loopback_host(host):
            _record("getaddrinfo", host)
            raise socket.gaierror(socket.EAI_NONAME, f"name lookup blocked by the test guard ({host!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not _is_loopback_host(host):
            raise _refuse("gethostbyname", host)
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> tuple:
        if not _is_loopback_host(host):
            raise _refuse("gethostbyname_ex", host)
        return real_gethostbyname_ex(host)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    _record("guard-installed", None)  # proves to the test that the guard ran in this process


if LOG:
    _install()
