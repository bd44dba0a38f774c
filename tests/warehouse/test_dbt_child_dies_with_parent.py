"""dbt's child process dies with gfm, even when gfm is killed with SIGKILL (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# the parent starts a long child the way run_dbt starts dbt, prints its pid, and waits
_PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from warehouse.dbt_runner import dying_with_parent

    child = subprocess.Popen(
        [sys.executable, "-c", dying_with_parent("import time; time.sleep(120)")],
        env={**os.environ, "GFM_PARENT_PID": str(os.getpid())},
        process_group=0,
    )
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_kill_9_of_the_parent_takes_the_child_down() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    assert os.getpgid(child) == child  # its own group: a terminal's Ctrl-C goes to gfm only
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
