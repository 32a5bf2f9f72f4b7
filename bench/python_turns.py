"""The Python adapter's side of the bridge benches (bench/bridge.bench.ts drives it).

    python3 bench/python_turns.py URL SESSION_ID BRIDGE_ARGV_JSON     (password in OPENCODE_SERVER_PASSWORD)

Starts python/opencode_turns.py's OpenCodeAdapter on the session, its bridge started from the given
argv, and writes {"ready": true}. Then for each line {"text": ...} on stdin it runs one prompt() and
writes one line: the outcome, the replies its sink received, the wall time of prompt(), and the CPU
this Python process and its bridge process used meanwhile. Input ending closes the adapter.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from opencode_turns import OpenCodeAdapter, OpenCodeConfig  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """User + system CPU of a process (every thread), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / _TICKS


def bridge_pid() -> int:
    """The adapter's bridge: this process's only child."""
    children = [
        int(pid)
        for task in Path("/proc/self/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    if len(children) != 1:
        raise RuntimeError(f"expected one child process (the bridge), found {children}")
    return children[0]


async def main(url: str, session_id: str, bridge_argv: list) -> None:
    received = 0
    text = 0

    def sink(reply: dict) -> None:
        nonlocal received, text
        received += 1
        if reply["kind"] == "delta":
            text += len(reply["content"])

    config = OpenCodeConfig(base_url=url, session_id=session_id, bridge_command=bridge_argv)
    loop = asyncio.get_running_loop()
    async with OpenCodeAdapter(config, sink) as adapter:
        await adapter.ensure_session()
        bridge = bridge_pid()
        print(json.dumps({"ready": True}), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            received = text = 0
            cpu_before, bridge_before = time.process_time(), cpu_ms(bridge)
            started = time.perf_counter()
            result = await adapter.prompt(json.loads(line)["text"])
            wall_ms = (time.perf_counter() - started) * 1000
            python_cpu_ms = (time.process_time() - cpu_before) * 1000
            print(
                json.dumps(
                    {
                        # Joined or not, the deltas must say exactly what the answer says.
                        "outcome": result["outcome"] if len(result["content"]) == text else "deltas_lost",
                        "replies": received,
                        "wall_ms": wall_ms,
                        "python_cpu_ms": python_cpu_ms,
                        "bridge_cpu_ms": cpu_ms(bridge) - bridge_before,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
