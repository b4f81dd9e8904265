"""Fault points: places where tests/test_faults.py kills a real server or sender process.

A fault point does nothing unless the process runs with ``ROLLWISE_TESTING=1`` and
``ROLLWISE_FAULT_POINTS`` names it (comma-separated). Then the process writes
``<instance>/fault-<name>`` (so the test knows exactly where it stands) and waits
there until the test sends SIGKILL. Production never sets these variables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import current_app


def armed(name: str) -> bool:
    if os.environ.get("ROLLWISE_TESTING") != "1":
        return False
    return name in os.environ.get("ROLLWISE_FAULT_POINTS", "").split(",")


def fault_point(name: str) -> None:
    """Stop here, waiting to be killed, if the fault tests armed this point."""
    if not armed(name):
        return
    marker = Path(current_app.instance_path) / f"fault-{name}"
    marker.write_text(str(os.getpid()))
    while True:  # the test kills the process; nothing else ends this wait
        time.sleep(0.05)
