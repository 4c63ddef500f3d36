"""sd_notify without libsystemd: one datagram to ``$NOTIFY_SOCKET`` per state change.

Under ``Type=notify`` systemd waits for ``READY=1`` before it calls the unit started, and
with ``WatchdogSec=`` restarts the worker when ``WATCHDOG=1`` stops arriving. Outside
systemd (no ``$NOTIFY_SOCKET``) every call is a no-op:

    >>> import os
    >>> os.environ.pop("NOTIFY_SOCKET", None) and None
    >>> notify("READY=1")
    False
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("newsdedup.systemd")


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``); True when a notify socket took it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never block the caller (the daemon's main loop) on a receiver that is behind.
            sock.setblocking(False)
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.warning("sd_notify %s failed: %s", state.split("=", 1)[0], exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec``), or None when no watchdog
    is asked for this process.

    >>> os.environ["WATCHDOG_USEC"] = "20000000"; os.environ.pop("WATCHDOG_PID", None)
    >>> watchdog_interval()
    10.0
    >>> del os.environ["WATCHDOG_USEC"]
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid.isdigit() and int(pid) != os.getpid():  # meant for another process
        return None
    return int(usec) / 2_000_000
