"""``betty-telemetry ui`` run as a real process, for the tests that talk to it."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Served:
    def __init__(self, process: subprocess.Popen[str], host: str, port: int) -> None:
        self.process, self.host, self.port = process, host, port

    def get(self, path: str, host_header: str | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {} if host_header is None else {"Host": host_header}
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        return answer.status, body

    def newer_report(self, version: object) -> dict[str, Any]:
        """The first report newer than ``version`` the server gives, asked until it does."""
        newer: dict[str, Any] = {}

        def given() -> bool:
            status, body = self.get(f"/api/report?after={version}")
            if status == 200:
                newer.update(json.loads(body))
            return status == 200

        wait_for(given)
        return newer


def start_ui(telemetry_file: Path, *args: str) -> Served:
    """``betty-telemetry ui --port 0`` in a real process, once it says where it serves."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "betty_telemetry",
            "ui",
            "--port",
            "0",
            "--file",
            str(telemetry_file),
            "--interval",
            "0.2",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"at http://([\d.]+):(\d+)/ \(Ctrl-C stops\)", line)
    assert found is not None, (line, process.stderr.read() if process.stderr else "")
    return Served(process, found.group(1), int(found.group(2)))


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@contextmanager
def serving(telemetry_file: Path, *args: str) -> Iterator[Served]:
    """``start_ui``, the process killed at the end if it still runs."""
    served = start_ui(telemetry_file, *args)
    try:
        yield served
    finally:
        # Ctrl-C, as a user stops it: the process ends its own way (and coverage, measuring
        # it, writes what it saw); killed only if it does not.
        if served.process.poll() is None:
            served.process.send_signal(signal.SIGINT)
        try:
            served.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.communicate(timeout=30)
