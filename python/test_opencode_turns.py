"""Tests of opencode_turns against a real opencode server (started by test/e2e/bridge.test.ts,
which passes it in OPENCODE_TURNS_TEST_*), called the way taOS's ``drive_turn`` calls its adapter."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import threading
import time
import unittest
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import opencode_turns
from opencode_turns import OpenCodeAdapter, OpenCodeConfig, OpenCodeError

URL = os.environ["OPENCODE_TURNS_TEST_URL"]
PASSWORD = os.environ["OPENCODE_TURNS_TEST_PASSWORD"]
PROVIDER = os.environ["OPENCODE_TURNS_TEST_PROVIDER"]
MODEL = os.environ["OPENCODE_TURNS_TEST_MODEL"]


@dataclasses.dataclass
class TaosConfig:
    """taOS's own config class: its fields only, none of this project's extras."""

    base_url: str
    server_password: Optional[str] = None
    server_username: str = "opencode"
    model_provider_id: str = "litellm"
    model_id: str = ""
    agent: Optional[str] = None
    system: Optional[str] = None
    connect_timeout: float = 10.0
    read_timeout: float = 300.0


async def drive_turn(text: str, trace_id: Optional[str], sink: Callable[[dict], Any], *, adapter_factory: Callable[..., Any], turn_timeout: float = 300.0) -> None:
    """What taOS's drive_turn does with its adapter: its own config, the factory, ensure_session,
    prompt and close, a timeout around the turn, and its own error reply when the turn times out."""
    cfg = TaosConfig(base_url=URL, server_password=PASSWORD, model_provider_id=PROVIDER, model_id=MODEL)
    adapter = None
    error_emitted = False

    def _sink(reply: dict) -> Any:
        nonlocal error_emitted
        if reply.get("kind") == "error":
            error_emitted = True
        return sink(reply)

    async def turn() -> None:
        await adapter.ensure_session()
        await adapter.prompt(text, trace_id)

    try:
        adapter = adapter_factory(cfg, _sink)
        await asyncio.wait_for(turn(), turn_timeout)
    except asyncio.TimeoutError:
        if not error_emitted:
            res = sink({"kind": "error", "trace_id": trace_id, "error": f"agent turn timed out (limit: {turn_timeout:g}s)"})
            if asyncio.iscoroutine(res):
                await res
    finally:
        if adapter is not None:
            await adapter.close()


def config(**extra: Any) -> OpenCodeConfig:
    values: dict = {"base_url": URL, "server_password": PASSWORD, "model_provider_id": PROVIDER, "model_id": MODEL}
    values.update(extra)
    return OpenCodeConfig(**values)


class Recorder:
    """A sink that keeps every reply; async, as taOS's is."""

    def __init__(self) -> None:
        self.replies: List[dict] = []

    async def __call__(self, reply: dict) -> None:
        await asyncio.sleep(0)
        self.replies.append(reply)

    def kinds(self) -> List[str]:
        return [r["kind"] for r in self.replies]

    def text(self, kind: str) -> str:
        return "".join(r["content"] for r in self.replies if r["kind"] == kind)

    async def until(self, kind: str) -> None:
        while kind not in self.kinds():
            await asyncio.sleep(0.02)


def assert_gone(test: unittest.TestCase, pid: int) -> None:
    with test.assertRaises(ProcessLookupError):
        os.kill(pid, 0)


#: Long enough for any turn of the scripted model; a call that hangs fails the test here instead.
HANG = 30.0


def bounded(test: Callable[..., Any]) -> Callable[..., Any]:
    """The test fails, instead of hanging the suite, if it (close() included) takes over 2 * HANG."""

    @functools.wraps(test)
    async def run(self: Any) -> None:
        await asyncio.wait_for(test(self), 2 * HANG)

    return run


def with_credentials(url: str, user: str, password: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{password}@{rest}"


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an orphan's zombie may wait for a lazy init)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def descendants(pid: int) -> List[Tuple[int, str]]:
    """Every process below ``pid``: (pid, command name)."""
    children: dict = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                name, _, rest = stat.read().partition(b" (")[2].rpartition(b")")
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(rest.split()[1]), []).append((int(entry), name.decode()))
    found: List[Tuple[int, str]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


class DropIn(unittest.IsolatedAsyncioTestCase):
    def assert_contract(self, replies: List[dict], result: dict) -> None:
        """The reply contract's invariants for one turn."""
        self.assertTrue(replies)
        self.assertEqual({r["trace_id"] for r in replies}, {result["trace_id"]})
        terminals = [r for r in replies if r["kind"] in ("final", "error")]
        self.assertEqual(terminals, [replies[-1]])
        self.assertIn(result["outcome"], ("final", "error"))
        if result["outcome"] == "final":
            self.assertEqual(result["content"], "".join(r["content"] for r in replies if r["kind"] == "delta"))
            self.assertEqual(replies[-1], {"kind": "final", "trace_id": result["trace_id"], "content": result["content"]})
        else:
            self.assertEqual(replies[-1]["code"], result["code"])

    async def test_taos_drive_turn_runs_a_whole_turn_with_reasoning_and_a_tool(self) -> None:
        made: List[OpenCodeAdapter] = []

        def factory(cfg: Any, sink: Any) -> OpenCodeAdapter:
            made.append(OpenCodeAdapter(cfg, sink))
            return made[0]

        sink = Recorder()
        pids: List[int] = []

        async def watching(reply: dict) -> None:
            if not pids:
                pids.append(made[0]._bridge.proc.pid)
            await sink(reply)

        await drive_turn("think, then use a tool", "taos-1", watching, adapter_factory=factory)

        kinds = sink.kinds()
        self.assertEqual(kinds[0], "reasoning")
        self.assertEqual(sink.text("reasoning"), "Let me run it.")
        # taOS's config has no permissions field: the default rejects bash, and the model is told so.
        calls = [r for r in sink.replies if r["kind"] == "tool_call"]
        results = [r for r in sink.replies if r["kind"] == "tool_result"]
        self.assertEqual(calls, [{"kind": "tool_call", "trace_id": "taos-1", "tool": "bash", "args": {"command": "echo thought-and-tool", "description": "run it"}, "call_id": "call_t"}])
        self.assertEqual([(r["call_id"], r["success"]) for r in results], [("call_t", False)])
        self.assertLess(kinds.index("tool_call"), kinds.index("tool_result"))
        self.assertLess(kinds.index("tool_result"), kinds.index("delta"))
        self.assertEqual(kinds[-1], "final")
        self.assertTrue(sink.text("delta").startswith("Tool said: "))
        self.assertTrue(made[0].session_id.startswith("ses"))
        self.assertEqual(len(pids), 1)
        assert_gone(self, pids[0])

    async def test_a_callable_permission_policy_decides_over_the_bridge(self) -> None:
        asked: List[dict] = []

        async def allow(request: dict) -> str:
            asked.append(request)
            await asyncio.sleep(0)
            return "once"

        sink = Recorder()
        async with OpenCodeAdapter(config(permissions=allow), sink) as adapter:
            result = await adapter.prompt("think, then use a tool", "allowed")
        self.assert_contract(sink.replies, result)
        self.assertEqual([r["permission"] for r in asked], ["bash"])
        tool_result = next(r for r in sink.replies if r["kind"] == "tool_result")
        self.assertEqual((tool_result["success"], tool_result["result"]), (True, "thought-and-tool\n"))
        self.assertEqual(result["content"], "Tool said: thought-and-tool\n")

    async def test_a_dict_config_a_sync_sink_and_a_sync_policy(self) -> None:
        replies: List[dict] = []
        cfg = {"base_url": URL, "server_password": PASSWORD, "model_provider_id": PROVIDER, "model_id": MODEL, "permissions": lambda request: {"reply": "reject", "message": "not today"}}
        adapter = OpenCodeAdapter(cfg, replies.append)
        result = await adapter.prompt("please use a tool")
        await adapter.close()
        self.assert_contract(replies, result)
        tool_result = next(r for r in replies if r["kind"] == "tool_result")
        self.assertFalse(tool_result["success"])
        self.assertIn("not today", result["content"])

    async def test_two_prompts_from_two_tasks_run_one_after_the_other(self) -> None:
        sink = Recorder()
        async with OpenCodeAdapter(config(), sink) as adapter:
            first, second = await asyncio.gather(
                asyncio.ensure_future(adapter.prompt("say hello [id:a]", "first")),
                asyncio.ensure_future(adapter.prompt("think first", "second")),
            )
        traces = [r["trace_id"] for r in sink.replies]
        self.assertEqual(traces, sorted(traces, key=["first", "second"].index))
        self.assert_contract([r for r in sink.replies if r["trace_id"] == "first"], first)
        self.assert_contract([r for r in sink.replies if r["trace_id"] == "second"], second)
        self.assertEqual((first["content"], second["content"]), ("Hello from the scripted model. [id:a]", "Thought it through."))
        self.assertEqual(first["session_id"], second["session_id"])

    async def test_ensure_session_then_prompt_on_that_session(self) -> None:
        sink = Recorder()
        async with OpenCodeAdapter(config(), sink) as adapter:
            session = await adapter.ensure_session()
            self.assertTrue(session.startswith("ses"))
            self.assertEqual(adapter.session_id, session)
            result = await adapter.prompt("say hello")
        self.assertEqual(result["session_id"], session)
        self.assertIsInstance(adapter.model_changes, list)

    async def test_cancel_ends_the_running_turn_and_the_next_one_runs(self) -> None:
        sink = Recorder()
        async with OpenCodeAdapter(config(), sink) as adapter:
            running = asyncio.ensure_future(adapter.prompt("slow please", "slow"))
            await sink.until("delta")
            await adapter.cancel()
            self.assertTrue(running.done())
            result = running.result()
            self.assertEqual((result["outcome"], result["code"]), ("error", "aborted"))
            self.assert_contract([r for r in sink.replies if r["trace_id"] == "slow"], result)
            after = await adapter.prompt("say hello", "after")
        self.assertEqual(after["outcome"], "final")

    async def test_a_bridge_killed_mid_turn_ends_the_turn_with_an_error_and_the_next_prompt_starts_another(self) -> None:
        sink = Recorder()
        adapter = OpenCodeAdapter(config(), sink)
        first = await adapter.prompt("say hello", "before")
        self.assertEqual(first["outcome"], "final")
        sink.replies.clear()
        running = asyncio.ensure_future(adapter.prompt("slow please", "killed"))
        await sink.until("delta")
        pid = adapter._bridge.proc.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        result = await running
        self.assertEqual((result["outcome"], result["code"]), ("error", "internal"))
        self.assertIn("bridge exited", result["error"])
        self.assert_contract(sink.replies, result)
        again = await adapter.prompt("say hello", "again")
        self.assertEqual(again["outcome"], "final")
        # The bridge started again goes on with the conversation: the same opencode session.
        self.assertEqual(again["session_id"], first["session_id"])
        self.assertEqual(adapter.session_id, first["session_id"])
        await adapter.close()
        assert_gone(self, pid)

    async def test_a_missing_bridge_is_an_error_reply_and_result_never_an_exception(self) -> None:
        replies: List[dict] = []
        adapter = OpenCodeAdapter(config(bridge_command=["/nonexistent/opencode-turns", "bridge"]), replies.append)
        result = await adapter.prompt("say hello", "missing")
        self.assertEqual((result["outcome"], result["code"]), ("error", "unreachable"))
        self.assertEqual(replies, [{"kind": "error", "trace_id": "missing", "error": result["error"], "code": "unreachable"}])
        with self.assertRaises(OpenCodeError):
            await adapter.ensure_session()
        await adapter.close()

    async def test_attachments_that_are_not_json_end_the_turn_with_bad_request(self) -> None:
        replies: List[dict] = []
        async with OpenCodeAdapter(config(), replies.append) as adapter:
            result = await adapter.prompt("read this", "bytes", attachments=[{"mime": "text/plain", "data": b"raw"}])
        self.assertEqual((result["outcome"], result["code"]), ("error", "bad_request"))
        self.assertEqual([r["kind"] for r in replies], ["error"])

    async def test_a_sink_that_raises_is_logged_and_the_turn_goes_on(self) -> None:
        seen: List[str] = []

        async def broken(reply: dict) -> None:
            seen.append(reply["kind"])
            raise RuntimeError("the reply route is down")

        with self.assertLogs("opencode_turns", "ERROR") as logs:
            async with OpenCodeAdapter(config(), broken) as adapter:
                result = await adapter.prompt("think first")
        self.assertEqual(result["outcome"], "final")
        self.assertEqual(seen[-1], "final")
        self.assertIn("reasoning", seen)
        self.assertTrue(any("the reply route is down" in line for line in logs.output))

    async def test_a_timeout_around_the_turn_stops_it_and_nothing_follows_taos_own_error(self) -> None:
        made: List[OpenCodeAdapter] = []

        def factory(cfg: Any, sink: Any) -> OpenCodeAdapter:
            made.append(OpenCodeAdapter(cfg, sink))
            return made[0]

        sink = Recorder()
        await drive_turn("slow please", "timed", sink, adapter_factory=factory, turn_timeout=1.5)
        errors = [r for r in sink.replies if r["kind"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(sink.replies[-1], errors[0])
        self.assertIn("timed out", errors[0]["error"])
        # The turn was stopped on the server: the session takes a new prompt at once.
        follow = Recorder()
        async with OpenCodeAdapter(config(session_id=made[0].session_id), follow) as adapter:
            result = await adapter.prompt("say hello", "next")
        self.assertEqual(result["outcome"], "final")

    async def test_close_during_a_turn_ends_it_and_leaves_no_child(self) -> None:
        sink = Recorder()
        adapter = OpenCodeAdapter(config(), sink)
        running = asyncio.ensure_future(adapter.prompt("slow please", "closing"))
        await sink.until("delta")
        pid = adapter._bridge.proc.pid  # type: ignore[union-attr]
        await adapter.close()
        result = await running
        self.assertEqual((result["outcome"], result["code"]), ("error", "closed"))
        self.assert_contract(sink.replies, result)
        assert_gone(self, pid)
        after = await adapter.prompt("say hello", "late")
        self.assertEqual(after["code"], "closed")

    async def test_the_password_goes_by_environment_never_on_the_command_line(self) -> None:
        sink = Recorder()
        async with OpenCodeAdapter(config(), sink) as adapter:
            await adapter.ensure_session()
            pid = adapter._bridge.proc.pid  # type: ignore[union-attr]
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode().split("\0")
            self.assertIn("--url", argv)
            self.assertFalse(any(PASSWORD in arg for arg in argv))
        self.assertNotIn(PASSWORD, repr(config()))

        # Credentials in base_url: the bridge gets the URL without them, and them by environment.
        in_url = config(base_url=with_credentials(URL, "opencode", PASSWORD), server_password=None)
        self.assertNotIn(PASSWORD, repr(in_url))
        async with OpenCodeAdapter(in_url, sink) as adapter:
            session = await adapter.ensure_session()  # so the server took the credentials
            pid = adapter._bridge.proc.pid  # type: ignore[union-attr]
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode().split("\0")
            with open(f"/proc/{pid}/environ", "rb") as environ:
                env = environ.read().decode().split("\0")
            result = await adapter.prompt("say hello", "in-url")
        self.assertTrue(session.startswith("ses"))
        self.assertEqual(result["outcome"], "final")
        self.assertFalse(any(PASSWORD in arg for arg in argv), argv)
        self.assertFalse(any("@" in arg for arg in argv), argv)
        self.assertEqual(argv[argv.index("--url") + 1], URL)
        self.assertIn(f"OPENCODE_SERVER_PASSWORD={PASSWORD}", env)
        self.assertIn("OPENCODE_SERVER_USERNAME=opencode", env)

    async def test_credentials_in_base_url_and_server_password_end_prompts_with_a_config_error(self) -> None:
        replies: List[dict] = []
        # As the TypeScript config refuses credentials given in two places; prompt() still never raises.
        adapter = OpenCodeAdapter(config(base_url=with_credentials(URL, "opencode", PASSWORD)), replies.append)
        result = await adapter.prompt("say hello", "twice")
        self.assertEqual((result["outcome"], result["code"]), ("error", "bad_request"))
        self.assertIn("in one place", result["error"])
        self.assertNotIn(PASSWORD, result["error"])
        self.assertEqual(replies, [{"kind": "error", "trace_id": "twice", "error": result["error"], "code": "bad_request"}])
        self.assertIsNone(adapter._bridge)
        with self.assertRaises(OpenCodeError) as raised:
            await adapter.ensure_session()
        self.assertEqual(raised.exception.code, "bad_request")
        await adapter.close()

    async def test_a_wrong_password_is_an_unauthorized_turn(self) -> None:
        replies: List[dict] = []
        async with OpenCodeAdapter(config(server_password="wrong"), replies.append) as adapter:
            with self.assertRaises(OpenCodeError) as raised:
                await adapter.ensure_session()
            self.assertEqual(raised.exception.code, "unauthorized")
            result = await adapter.prompt("say hello")
        self.assertEqual(result["code"], "unauthorized")
        self.assertNotIn("wrong", result["error"])

    def test_config_checks(self) -> None:
        with self.assertRaises(ValueError):
            OpenCodeAdapter({"base_url": URL, "no_such_field": 1}, print)
        with self.assertRaises(ValueError):
            OpenCodeAdapter(config(permissions="sometimes"), print)
        taos = TaosConfig(base_url=URL)
        adapter = OpenCodeAdapter(taos, print)
        self.assertIsNone(adapter.session_id)
        self.assertIn("--url", opencode_turns._bridge_args(adapter._cfg, None))
        # Credentials in the URL are percent-decoded, as the TypeScript config decodes them; a URL
        # username replaces --username.
        cfg = OpenCodeConfig(base_url="http://a%40b:p%3Aw@h:1/x?q=1")
        self.assertEqual(opencode_turns._url_credentials(cfg.base_url), ("http://h:1/x?q=1", "a@b", "p:w"))
        self.assertEqual(opencode_turns._bridge_args(cfg, None)[:2], ["--url", "http://h:1/x?q=1"])
        self.assertNotIn("--username", opencode_turns._bridge_args(cfg, None))
        env = opencode_turns._bridge_env(cfg, {})
        self.assertEqual(env, {"OPENCODE_SERVER_USERNAME": "a@b", "OPENCODE_SERVER_PASSWORD": "p:w"})
        self.assertNotIn("p%3Aw", repr(cfg))
        self.assertEqual(opencode_turns._url_credentials("http://:pw@h"), ("http://h", None, "pw"))
        self.assertEqual(opencode_turns._url_credentials("http://h/a@b"), ("http://h/a@b", None, None))
        # demo=True is the bridge's --demo, which starts its own opencode: with a URL (or a
        # directory) the bridge would stop with a usage error, so the config refuses it first.
        self.assertEqual(opencode_turns._bridge_args(OpenCodeConfig(base_url="", demo=True), None)[-1], "--demo")
        self.assertNotIn("--demo", opencode_turns._bridge_args(OpenCodeConfig(base_url=URL), None))
        self.assertIn('base_url=""', opencode_turns._config_problem(OpenCodeConfig(base_url=URL, demo=True)) or "")
        self.assertIn("directory", opencode_turns._config_problem(OpenCodeConfig(base_url="", demo=True, directory="/tmp")) or "")

    def test_the_config_s_vocabulary_is_the_bridge_s_flag(self) -> None:
        self.assertNotIn("--vocabulary", opencode_turns._bridge_args(OpenCodeConfig(base_url=URL), None))
        args = opencode_turns._bridge_args(OpenCodeConfig(base_url=URL, vocabulary="full"), None)
        self.assertEqual(args[args.index("--vocabulary") + 1], "full")
        with self.assertRaises(ValueError):
            OpenCodeAdapter({"base_url": URL, "vocabulary": "loud"}, print)


class InsideTheSink(unittest.IsolatedAsyncioTestCase):
    """The sink is awaited by the task that reads the bridge: calls from there must never wait for a turn."""

    @bounded
    async def test_a_prompt_from_inside_the_sink_is_refused_at_once_and_its_reply_follows_the_turn(self) -> None:
        replies: List[dict] = []
        refused: List[dict] = []
        adapter = OpenCodeAdapter(config(), None)  # type: ignore[arg-type]

        async def sink(reply: dict) -> None:
            replies.append(reply)
            if reply["trace_id"] == "outer" and reply["kind"] == "delta":
                if not refused:
                    refused.append(await adapter.prompt("say hello", "inner-1"))
                elif len(refused) == 1:
                    # From a task the sink starts and waits for: the same call chain, refused too.
                    refused.append(await asyncio.wait_for(adapter.prompt("say hello", "inner-2"), HANG))

        adapter._sink = sink
        async with adapter:
            outer = await asyncio.wait_for(adapter.prompt("slow please", "outer"), HANG)
            after = await asyncio.wait_for(adapter.prompt("say hello", "after"), HANG)
        self.assertEqual(outer["outcome"], "final")
        self.assertEqual(after["outcome"], "final")
        self.assertEqual([(r["trace_id"], r["outcome"], r["code"], r["duration_ms"]) for r in refused], [("inner-1", "error", "bad_request", 0), ("inner-2", "error", "bad_request", 0)])
        self.assertIn("from inside this adapter's sink", refused[0]["error"])
        # Each refusal's error reply comes after the whole running turn, before the next turn.
        traces = [r["trace_id"] for r in replies]
        last_outer = len(traces) - 1 - traces[::-1].index("outer")
        self.assertEqual(replies[last_outer]["kind"], "final")
        self.assertEqual(replies[last_outer + 1 : last_outer + 3], [
            {"kind": "error", "trace_id": "inner-1", "error": refused[0]["error"], "code": "bad_request"},
            {"kind": "error", "trace_id": "inner-2", "error": refused[1]["error"], "code": "bad_request"},
        ])
        self.assertEqual(set(traces[last_outer + 3 :]), {"after"})

    @bounded
    async def test_a_prompt_from_a_permission_policy_is_refused_and_the_turn_goes_on(self) -> None:
        refused: List[dict] = []
        replies: List[dict] = []
        adapter: Optional[OpenCodeAdapter] = None

        async def policy(request: dict) -> str:
            refused.append(await adapter.prompt("say hello", "from-policy"))  # type: ignore[union-attr]
            return "once"

        adapter = OpenCodeAdapter(config(permissions=policy), replies.append)
        async with adapter:
            result = await asyncio.wait_for(adapter.prompt("please use a tool", "tool"), HANG)
        self.assertEqual(result["outcome"], "final")
        self.assertEqual([r["code"] for r in refused], ["bad_request"])
        self.assertEqual(replies[-1], {"kind": "error", "trace_id": "from-policy", "error": refused[0]["error"], "code": "bad_request"})

    @bounded
    async def test_cancel_from_inside_the_sink_sends_the_cancel_without_waiting(self) -> None:
        replies: List[dict] = []
        cancelled: List[bool] = []
        adapter = OpenCodeAdapter(config(), None)  # type: ignore[arg-type]

        async def sink(reply: dict) -> None:
            replies.append(reply)
            if reply["kind"] == "delta" and not cancelled:
                await asyncio.wait_for(adapter.cancel(), HANG)
                cancelled.append(True)

        adapter._sink = sink
        async with adapter:
            result = await asyncio.wait_for(adapter.prompt("slow please", "cancelled"), HANG)
        self.assertEqual(cancelled, [True])
        self.assertEqual((result["outcome"], result["code"]), ("error", "aborted"))
        self.assertEqual(replies[-1]["code"], "aborted")

    @bounded
    async def test_ensure_session_from_inside_the_sink_raises_at_once(self) -> None:
        raised: List[OpenCodeError] = []
        adapter = OpenCodeAdapter(config(), None)  # type: ignore[arg-type]

        async def sink(reply: dict) -> None:
            if not raised:
                try:
                    await asyncio.wait_for(adapter.ensure_session(), HANG)
                except OpenCodeError as error:
                    raised.append(error)

        adapter._sink = sink
        async with adapter:
            result = await asyncio.wait_for(adapter.prompt("think first", "session"), HANG)
            # Outside the sink it works as ever.
            self.assertEqual(await asyncio.wait_for(adapter.ensure_session(), HANG), result["session_id"])
        self.assertEqual(result["outcome"], "final")
        self.assertEqual([error.code for error in raised], ["bad_request"])
        self.assertIn("from inside this adapter's sink", str(raised[0]))


class BridgeLifetime(unittest.IsolatedAsyncioTestCase):
    @bounded
    async def test_a_bridge_that_dies_before_the_turn_is_registered_ends_that_turn(self) -> None:
        replies: List[dict] = []
        # A "bridge" that exits at once; _start() returns it only after its reader has ended what
        # was in flight (nothing yet): the window between _start() and the turn's registration.
        adapter = OpenCodeAdapter(config(bridge_command=["sh", "-c", "echo going away >&2; exit 3"]), replies.append)
        start = adapter._start

        async def start_then_die() -> Any:
            bridge = await start()
            await bridge.reader
            return bridge

        adapter._start = start_then_die  # type: ignore[method-assign]
        with self.assertLogs("opencode_turns", "WARNING"):
            result = await asyncio.wait_for(adapter.prompt("say hello", "orphan"), HANG)
        self.assertEqual((result["outcome"], result["code"]), ("error", "internal"))
        self.assertIn("bridge exited (code 3): going away", result["error"])
        self.assertEqual(replies, [{"kind": "error", "trace_id": "orphan", "error": result["error"], "code": "internal"}])
        await adapter.close()

    async def test_with_no_base_url_the_bridge_starts_its_own_opencode_and_close_stops_it(self) -> None:
        # base_url "": the bridge starts opencode itself; demo=True (the bridge's --demo) makes that
        # one use the built-in offline model, so this runs without a provider.
        sink = Recorder()
        below: List[Tuple[int, str]] = []
        adapter = OpenCodeAdapter(OpenCodeConfig(base_url="", demo=True), sink)

        async def watching(reply: dict) -> None:
            if not below:
                below.extend(descendants(adapter._bridge.proc.pid))  # type: ignore[union-attr]
            await sink(reply)

        adapter._sink = watching
        result = await asyncio.wait_for(adapter.prompt("What is here?", "demo"), 120)
        bridge_pid = adapter._bridge.proc.pid  # type: ignore[union-attr]
        await adapter.close()
        self.assertEqual(result["outcome"], "final", result)
        self.assertTrue(result["session_id"].startswith("ses"))
        self.assertIn("offline demo", result["content"])
        self.assertIn("tool_call", sink.kinds())
        self.assertTrue(any("opencode" in name for _, name in below), below)
        self.assertFalse(running(bridge_pid))
        self.assertEqual([(pid, name) for pid, name in below if running(pid)], [])



class TurnOptionsAndSessionOperations(unittest.IsolatedAsyncioTestCase):
    """A turn's own options, and the session operations, against the test's opencode. (A bridge that
    starts its own opencode is BridgeLifetime's test: one start per test here would be about 2.5 s of
    opencode's CPU each, for nothing these tests look at.)"""

    async def asyncSetUp(self) -> None:
        self.sink = Recorder()
        self.adapter = OpenCodeAdapter(config(), self.sink)

    async def asyncTearDown(self) -> None:
        await self.adapter.close()

    async def test_a_prompt_s_system_and_vocabulary_reach_the_bridge_and_history_holds_the_turn(self) -> None:
        core = await asyncio.wait_for(self.adapter.prompt("What is here?", "core", system="Answer in one line."), 120)
        self.assertEqual(core["outcome"], "final", core)
        self.assertNotIn("step", self.sink.kinds())
        del self.sink.replies[:]
        full = await asyncio.wait_for(self.adapter.prompt("What is here?", "full", vocabulary="full"), 120)
        self.assertEqual(full["outcome"], "final", full)
        self.assertIn("step", self.sink.kinds())
        self.assertEqual(self.sink.replies[-1], {"kind": "final", "trace_id": "full", "content": full["content"]})
        # An option the bridge refuses ends the turn as any refused prompt does: forwarded, not dropped.
        refused = await asyncio.wait_for(self.adapter.prompt("What is here?", "bad", tools={"bash": "yes"}), HANG)  # type: ignore[dict-item]
        self.assertEqual((refused["outcome"], refused["code"]), ("error", "bad_request"), refused)

        history = await asyncio.wait_for(self.adapter.history(), HANG)
        self.assertEqual([turn["text"] for turn in history], ["What is here?", "What is here?"])
        self.assertTrue(all(turn["message_id"].startswith("msg_") for turn in history), history)
        last = history[-1]["replies"]
        self.assertEqual(last[-1]["kind"], "final")
        self.assertEqual(last[-1]["content"], full["content"])
        self.assertEqual("".join(r["content"] for r in last if r["kind"] == "delta"), full["content"])
        # The full vocabulary replays the stored steps too; the core one (the config's) has none.
        self.assertNotIn("step", [r["kind"] for turn in history for r in turn["replies"]])
        replayed = await asyncio.wait_for(self.adapter.history(vocabulary="full"), HANG)
        self.assertEqual([turn["message_id"] for turn in replayed], [turn["message_id"] for turn in history])
        self.assertIn("step", [r["kind"] for r in replayed[-1]["replies"]])
        self.assertEqual(replayed[-1]["replies"][-1], last[-1])

    async def test_fork_makes_a_new_session_that_sessions_lists_beside_this_one(self) -> None:
        result = await asyncio.wait_for(self.adapter.prompt("What is here?", "t"), 120)
        self.assertEqual(result["outcome"], "final", result)
        first = (await asyncio.wait_for(self.adapter.history(), HANG))[0]["message_id"]
        forked = await asyncio.wait_for(self.adapter.fork(), HANG)
        self.assertTrue(forked.startswith("ses_"), forked)
        self.assertNotEqual(forked, self.adapter.session_id)
        listed = [s["session_id"] for s in await asyncio.wait_for(self.adapter.sessions(), HANG)]
        self.assertIn(self.adapter.session_id, listed)
        self.assertIn(forked, listed)
        self.assertNotEqual(await asyncio.wait_for(self.adapter.fork(first), HANG), forked)
        # Reverting to the first turn, then taking it back, leaves the session with that turn.
        await asyncio.wait_for(self.adapter.revert(first), HANG)
        await asyncio.wait_for(self.adapter.unrevert(), HANG)
        self.assertEqual([turn["message_id"] for turn in await self.adapter.history()], [first])

    async def test_a_revert_to_what_is_not_a_message_id_raises_with_the_bridge_s_code(self) -> None:
        await asyncio.wait_for(self.adapter.ensure_session(), 120)
        with self.assertRaises(OpenCodeError) as raised:
            await asyncio.wait_for(self.adapter.revert("not-a-message"), HANG)
        self.assertEqual(raised.exception.code, "bad_request")
        # A well-formed id the session does not have: opencode would take it and do nothing.
        with self.assertRaises(OpenCodeError) as unknown:
            await asyncio.wait_for(self.adapter.revert("msg_doesnotexist"), HANG)
        self.assertEqual(unknown.exception.code, "bad_request")
        self.assertIn("no message msg_doesnotexist", str(unknown.exception))
        # The adapter goes on: the next operation is answered.
        self.assertEqual(await asyncio.wait_for(self.adapter.history(), HANG), [])

    async def test_a_command_and_a_summarize_run_as_turns_and_never_raise(self) -> None:
        unknown = await asyncio.wait_for(self.adapter.command("no-such-command", "x", "cmd"), 120)
        self.assertEqual((unknown["outcome"], unknown["code"], unknown["trace_id"]), ("error", "bad_request", "cmd"), unknown)
        self.assertIn("no-such-command", unknown["error"])
        self.assertEqual(self.sink.replies[-1]["kind"], "error")
        summary = await asyncio.wait_for(self.adapter.summarize("sum"), 120)
        self.assertEqual(summary["trace_id"], "sum")
        self.assertIn(summary["outcome"], ("final", "error"))
        self.assertEqual(self.sink.replies[-1]["trace_id"], "sum")


HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent


def path_without_bridge() -> str:
    """PATH less every folder holding an ``opencode-turns``, so only the lookup under test can find one."""
    folders = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not os.access(os.path.join(f, "opencode-turns"), os.X_OK))


def child_env(**extra: str) -> Dict[str, str]:
    """The environment of a Python program run as a user would: no bridge named, none on PATH."""
    env = {key: value for key, value in os.environ.items() if key != opencode_turns.BRIDGE_ENV}
    env["PATH"] = path_without_bridge()
    env.update(extra)
    return env


def run_python(python: str, code: str, cwd: Path, timeout: float = 120, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], cwd=cwd, env=env or child_env(), capture_output=True, text=True, timeout=timeout)


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def built_cli(root: Path, entry: str) -> Path:
    cli = root / entry
    cli.parent.mkdir(parents=True, exist_ok=True)
    cli.write_text("// a built CLI\n")
    return cli


class FindingTheBridge(unittest.TestCase):
    """Where the bridge is looked for when the config has no bridge_command (find_bridge)."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="opencode-turns-find-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.node_only = self.tmp / "node-bin"
        self.node = executable(self.node_only / "node")

    def find(self, env: Dict[str, str], cwd: Optional[Path] = None, module_root: Optional[Path] = None, built_from: Optional[Path] = None) -> List[str]:
        return opencode_turns._find_bridge(env, cwd or self.tmp, module_root or self.tmp / "copied", str(built_from) if built_from else None)

    def test_the_env_var_then_path_then_node_modules_then_the_checkout_it_sits_in_then_the_one_it_was_installed_from(self) -> None:
        on_path = self.tmp / "path-bin"
        executable(on_path / "node")
        bridge_on_path = executable(on_path / "opencode-turns")
        executable(on_path / "custom-bridge")
        project = self.tmp / "project"
        local = executable(project / "node_modules" / ".bin" / "opencode-turns")
        cwd = project / "src" / "deep"
        cwd.mkdir(parents=True)
        checkout = self.tmp / "checkout"
        cli = built_cli(checkout, "dist/src/cli/main.js")

        every = {"PATH": str(on_path), opencode_turns.BRIDGE_ENV: "custom-bridge --verbose bridge"}
        self.assertEqual(self.find(every, cwd, checkout), ["custom-bridge", "--verbose", "bridge"])
        self.assertEqual(self.find({"PATH": str(on_path)}, cwd, checkout), [str(bridge_on_path), "bridge"])
        self.assertEqual(self.find({"PATH": str(self.node_only)}, cwd, checkout), [str(local), "bridge"])
        self.assertEqual(self.find({"PATH": str(self.node_only)}, self.tmp, checkout), [str(self.node), str(cli), "bridge"])
        # A copy installed elsewhere (pip install ./python) goes back to the checkout it was built from.
        self.assertEqual(self.find({"PATH": str(self.node_only)}, self.tmp, self.tmp / "site-packages", checkout), [str(self.node), str(cli), "bridge"])
        # An empty variable counts as unset.
        self.assertEqual(self.find({"PATH": str(on_path), opencode_turns.BRIDGE_ENV: " "}, cwd), [str(bridge_on_path), "bridge"])

    def test_the_env_var_takes_the_cli_s_path_a_folder_holding_a_built_one_or_a_command_line(self) -> None:
        var = opencode_turns.BRIDGE_ENV
        path = str(self.node_only)
        script = built_cli(self.tmp, "elsewhere/cli.js")
        program = executable(self.tmp / "bin" / "my-bridge")
        package = self.tmp / "node_modules" / "opencode-turns"
        old_layout = built_cli(package, "dist/src/cli.js")
        executable(self.node_only / "npx")
        self.assertEqual(self.find({"PATH": path, var: str(script)}), [str(self.node), str(script), "bridge"])
        self.assertEqual(self.find({"PATH": path, var: str(program)}), [str(program), "bridge"])
        self.assertEqual(self.find({"PATH": path, var: str(package)}), [str(self.node), str(old_layout), "bridge"])
        self.assertEqual(self.find({"PATH": path, var: "npx"}), ["npx", "bridge"])
        self.assertEqual(self.find({"PATH": path, var: "npx --no-install opencode-turns bridge"}), ["npx", "--no-install", "opencode-turns", "bridge"])
        for value, says in [
            (str(self.tmp / "bin"), "npm run build"),
            ("no-such-program bridge", "no-such-program is not a program on PATH"),
            ('"unclosed', "not a path nor a command line"),
        ]:
            with self.assertRaises(OpenCodeError, msg=value) as raised:
                self.find({"PATH": path, var: value})
            self.assertEqual(raised.exception.code, "unreachable")
            self.assertIn(var, str(raised.exception))
            self.assertIn(says, str(raised.exception))
        with self.assertRaises(OpenCodeError) as raised:
            self.find({"PATH": str(self.tmp / "bin"), var: str(script)})
        self.assertIn("no `node` on PATH", str(raised.exception))

    def test_a_checkout_s_cli_is_found_in_the_new_layout_first_then_the_old_one(self) -> None:
        path = {"PATH": str(self.node_only)}
        checkout = self.tmp / "checkout"
        old = built_cli(checkout, "dist/src/cli.js")
        self.assertEqual(self.find(path, module_root=checkout), [str(self.node), str(old), "bridge"])
        new = built_cli(checkout, "dist/src/cli/main.js")
        self.assertEqual(self.find(path, module_root=checkout), [str(self.node), str(new), "bridge"])
        # A checkout that was never built says so, and how to build it.
        unbuilt = self.tmp / "unbuilt"
        unbuilt.mkdir()
        (unbuilt / "package.json").write_text('{"name": "opencode-turns"}')
        with self.assertRaises(OpenCodeError) as raised:
            self.find(path, module_root=unbuilt)
        self.assertIn(f"{unbuilt} has no built CLI: run `npm ci && npm run build` there", str(raised.exception))

    def test_with_no_bridge_anywhere_a_copied_module_says_what_to_do_never_a_node_stack_trace(self) -> None:
        with self.assertRaises(OpenCodeError) as raised:
            self.find({"PATH": str(self.node_only)})
        message = str(raised.exception)
        self.assertEqual(raised.exception.code, "unreachable")
        for says in ("npm install -g opencode-turns", "npm install opencode-turns", opencode_turns.BRIDGE_ENV, "bridge_command", "dist/src/cli/main.js"):
            self.assertIn(says, message)

        # As a user meets it: opencode_turns.py copied next to a program, run with no bridge around.
        home = self.tmp / "my-program"
        home.mkdir()
        shutil.copy(HERE / "opencode_turns.py", home)
        code = textwrap.dedent(f"""
            import asyncio, json
            from opencode_turns import OpenCodeAdapter, OpenCodeConfig, OpenCodeError

            async def main():
                replies = []
                async with OpenCodeAdapter(OpenCodeConfig(base_url={URL!r}), replies.append) as adapter:
                    result = await adapter.prompt("say hello", "copied")
                    try:
                        await adapter.ensure_session()
                        raised = None
                    except OpenCodeError as error:
                        raised = [error.code, str(error)]
                print(json.dumps({{"result": result, "replies": replies, "raised": raised}}))

            asyncio.run(main())
        """)
        run = run_python(sys.executable, code, home, timeout=30)
        self.assertEqual(run.returncode, 0, run.stderr)
        seen = json.loads(run.stdout)
        result = seen["result"]
        self.assertEqual((result["outcome"], result["code"]), ("error", "unreachable"))
        self.assertTrue(result["error"].startswith("Cannot find the opencode-turns bridge."), result["error"])
        self.assertIn("npm install -g opencode-turns", result["error"])
        self.assertNotIn("node:internal", result["error"] + run.stderr)
        self.assertEqual(seen["replies"], [{"kind": "error", "trace_id": "copied", "error": result["error"], "code": "unreachable"}])
        self.assertEqual(seen["raised"], ["unreachable", result["error"]])
        where = subprocess.run([sys.executable, "-m", "opencode_turns"], cwd=home, env=child_env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(where.returncode, 1, where.stderr)
        self.assertIn("Cannot find the opencode-turns bridge.", where.stdout)


def pythons() -> List[str]:
    """This Python, and a Python 3.9 (the oldest supported) when the machine has one that runs."""
    found = [sys.executable]
    if sys.version_info[:2] != (3, 9):
        candidates = [shutil.which("python3.9")] + sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")))
        for candidate in candidates:
            if candidate and subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
                found.append(candidate)
                break
    return found


#: The README's first-turn snippet, run as written: the first python block that calls asyncio.run(main()).
def readme_snippet() -> str:
    text = (HERE / "README.md").read_text("utf-8")
    blocks = [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
    return next(block for block in blocks if "asyncio.run(main())" in block)


class Installing(unittest.TestCase):
    """pip install ./python into a fresh venv, with no package index, then a turn from outside the checkout."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="opencode-turns-venv-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def venv(self, python: str, name: str) -> str:
        folder = self.tmp / name
        subprocess.run([python, "-m", "venv", str(folder)], check=True, capture_output=True, timeout=120)
        return str(folder / "bin" / "python")

    def pip_install(self, venv_python: str, *args: str) -> None:
        # Exactly `pip install ./python` from the checkout; PIP_NO_INDEX proves it needs no index.
        run = subprocess.run(
            [venv_python, "-m", "pip", "install", "--quiet", *args, "./python"],
            cwd=CHECKOUT,
            env=child_env(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1"),
            capture_output=True,
            text=True,
            timeout=180,
        )
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    def probe(self, venv_python: str, cwd: Path) -> dict:
        code = textwrap.dedent("""
            import json, sys
            from importlib.metadata import version
            import opencode_turns
            print(json.dumps({"file": opencode_turns.__file__, "version": opencode_turns.__version__,
                              "installed": version("opencode-turns"), "bridge": opencode_turns.find_bridge(),
                              "python": list(sys.version_info[:2])}))
        """)
        run = run_python(venv_python, code, cwd, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        return json.loads(run.stdout)

    def test_pip_install_into_a_fresh_venv_offline_then_the_readme_s_demo_turn_from_outside_the_checkout_then_pip_install_e(self) -> None:
        elsewhere = self.tmp / "elsewhere"
        elsewhere.mkdir()
        cli = next(CHECKOUT.joinpath(*entry) for entry in opencode_turns._CLI_ENTRIES if CHECKOUT.joinpath(*entry).is_file())
        snippet = readme_snippet()
        for python in pythons():
            with self.subTest(python=python):
                venv_python = self.venv(python, f"venv-{len(list(self.tmp.iterdir()))}")
                self.pip_install(venv_python)
                seen = self.probe(venv_python, elsewhere)
                self.assertGreaterEqual(tuple(seen["python"]), (3, 9))
                self.assertTrue(seen["file"].startswith(str(self.tmp)), seen["file"])
                self.assertEqual(seen["installed"], seen["version"])
                self.assertEqual(seen["bridge"], [shutil.which("node", path=path_without_bridge()), str(cli), "bridge"])
                where = subprocess.run([venv_python, "-m", "opencode_turns"], cwd=elsewhere, env=child_env(), capture_output=True, text=True, timeout=60)
                self.assertEqual(where.returncode, 0, where.stderr)
                self.assertIn(f"bridge: {shutil.which('node', path=path_without_bridge())} {cli} bridge", where.stdout)
                # The README's snippet, as written, from a folder outside the checkout.
                run = run_python(venv_python, snippet, elsewhere, timeout=180)
                self.assertEqual(run.returncode, 0, run.stderr)
                # Its last print: the outcome, then the answer (over several lines).
                self.assertIn("\nfinal This is the offline demo of opencode-turns", run.stdout, run.stdout[-2000:])
                if python == sys.executable:
                    # pip install -e over it: the module is the checkout's own file.
                    self.pip_install(venv_python, "-e")
                    seen = self.probe(venv_python, elsewhere)
                    self.assertEqual(seen["file"], str(HERE / "opencode_turns.py"))
                    self.assertEqual(seen["installed"], opencode_turns.__version__)

    def test_the_sdist_builds_the_wheel_again_and_the_wheel_s_record_matches_its_files(self) -> None:
        sys.path.insert(0, str(HERE / "_build"))
        try:
            import opencode_turns_build as backend
        finally:
            sys.path.pop(0)
        sdist = self.tmp / backend.build_sdist(str(self.tmp))
        with tarfile.open(sdist) as archive:
            names = archive.getnames()
            archive.extractall(self.tmp / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        base = f"opencode_turns-{opencode_turns.__version__}"
        self.assertEqual(sorted(names), sorted(f"{base}/{name}" for name in ("PKG-INFO", *backend.SDIST_FILES)))
        # Built from the unpacked sdist (as pip builds one from an index): not a checkout, so no _BUILT_FROM.
        code = "import sys; sys.path.insert(0, '_build'); import opencode_turns_build as b; print(b.build_wheel(sys.argv[1]))"
        run = subprocess.run([sys.executable, "-c", code, str(self.tmp)], cwd=self.tmp / "unpacked" / base, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        with zipfile.ZipFile(self.tmp / run.stdout.strip()) as wheel:
            files = {name: wheel.read(name) for name in wheel.namelist()}
        info = f"{base}.dist-info"
        self.assertEqual(sorted(files), sorted(["opencode_turns.py", f"{info}/METADATA", f"{info}/WHEEL", f"{info}/RECORD"]))
        self.assertEqual(files["opencode_turns.py"], (HERE / "opencode_turns.py").read_bytes())
        metadata = files[f"{info}/METADATA"].decode()
        for line in ("Name: opencode-turns", f"Version: {opencode_turns.__version__}", "Requires-Python: >=3.9"):
            self.assertIn(f"\n{line}\n", metadata)
        for row in files[f"{info}/RECORD"].decode().splitlines():
            name, digest, size = row.split(",")
            if name == f"{info}/RECORD":
                continue
            expected = base64.urlsafe_b64encode(hashlib.sha256(files[name]).digest()).rstrip(b"=").decode()
            self.assertEqual((digest, size), (f"sha256={expected}", str(len(files[name]))), name)


class EventLoops(unittest.IsolatedAsyncioTestCase):
    """An adapter belongs to the event loop it was first used on."""

    @bounded
    async def test_used_from_a_second_loop_it_fails_at_once_and_close_there_closes_it_on_its_own_loop(self) -> None:
        owner = asyncio.new_event_loop()
        thread = threading.Thread(target=owner.run_forever, daemon=True)
        thread.start()
        replies: List[dict] = []
        adapter = OpenCodeAdapter(config(), replies.append)

        def on_owner(coroutine: Any) -> "asyncio.Future[Any]":
            return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, owner))

        try:
            first = await asyncio.wait_for(on_owner(adapter.prompt("say hello", "owner")), HANG)
            self.assertEqual(first["outcome"], "final")
            pid = adapter._bridge.proc.pid  # type: ignore[union-attr]
            started = time.monotonic()
            second = await asyncio.wait_for(adapter.prompt("say hello", "other"), HANG)
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertEqual((second["outcome"], second["code"]), ("error", "bad_request"))
            self.assertIn("another event loop", second["error"])
            self.assertEqual(replies[-1], {"kind": "error", "trace_id": "other", "error": second["error"], "code": "bad_request"})
            for call in (adapter.ensure_session, adapter.cancel):
                with self.assertRaises(OpenCodeError) as raised:
                    await asyncio.wait_for(call(), HANG)
                self.assertEqual(raised.exception.code, "bad_request")
            # The owner loop still works, and close() here closes the adapter there.
            again = await asyncio.wait_for(on_owner(adapter.prompt("say hello", "owner-again")), HANG)
            self.assertEqual(again["outcome"], "final")
            await asyncio.wait_for(adapter.close(), HANG)
            self.assertFalse(running(pid))
        finally:
            owner.call_soon_threadsafe(owner.stop)
            thread.join(HANG)
            owner.close()

    def test_kept_across_asyncio_run_calls_it_fails_at_once_on_the_second_and_close_there_ends_its_bridge(self) -> None:
        # One adapter made once and used by each asyncio.run() of a program: the second run's loop is
        # not the first's. Run in a child, since the first loop leaves the adapter open.
        code = textwrap.dedent(f"""
            import asyncio, json, os, time
            from opencode_turns import OpenCodeAdapter, OpenCodeConfig
            cfg = OpenCodeConfig(base_url={URL!r}, server_password={PASSWORD!r}, model_provider_id={PROVIDER!r}, model_id={MODEL!r})
            adapter = OpenCodeAdapter(cfg, lambda reply: None)
            seen = {{}}

            async def first():
                seen["first"] = (await adapter.prompt("say hello", "first"))["outcome"]
                seen["pid"] = adapter._bridge.proc.pid

            async def second():
                started = time.monotonic()
                result = await asyncio.wait_for(adapter.prompt("say hello", "second"), 30)
                seen["second"] = [result["code"], result["error"], time.monotonic() - started]
                await asyncio.wait_for(adapter.close(), 30)
                seen["closed"] = True

            asyncio.run(first())
            asyncio.run(second())
            print(json.dumps(seen))
        """)
        run = run_python(sys.executable, code, HERE, timeout=90)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertNotIn("Event loop is closed", run.stderr)
        seen = json.loads(run.stdout)
        self.assertEqual(seen["first"], "final")
        code_, error, took = seen["second"]
        self.assertEqual(code_, "bad_request")
        self.assertIn("each asyncio.run() starts a new loop", error)
        self.assertLess(took, 1.0)
        self.assertTrue(seen["closed"])
        # The bridge was told to close: it ends its turns and exits by itself.
        deadline = time.monotonic() + HANG
        while running(seen["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(running(seen["pid"]))


#: A stand-in bridge that, like one that lets its turns finish at the end of its input, keeps
#: running a while after stdin closes, unless it was sent `close`. It writes the ops it got to argv[1].
STUBBORN_BRIDGE = textwrap.dedent("""
    import json, sys, time
    ops = []
    for line in sys.stdin:
        if line.strip():
            ops.append(json.loads(line)["op"])
            with open(sys.argv[1], "w") as record:
                record.write(json.dumps(ops))
            if ops[-1] == "close":
                print(json.dumps({"id": "close", "closed": True}), flush=True)
                sys.exit(0)
    time.sleep(20)
""")


class Cancelling(unittest.IsolatedAsyncioTestCase):
    @bounded
    async def test_cancel_right_after_prompt_in_the_same_tick_cancels_that_turn(self) -> None:
        sink = Recorder()
        async with OpenCodeAdapter(config(), sink) as adapter:
            # Before the bridge has started: the turn is not sent, and ends aborted.
            early = asyncio.ensure_future(adapter.prompt("say hello", "early"))
            await asyncio.wait_for(adapter.cancel(), HANG)
            self.assertTrue(early.done())
            result = early.result()
            self.assertEqual((result["outcome"], result["code"]), ("error", "aborted"))
            self.assert_contract([r for r in sink.replies if r["trace_id"] == "early"], result)
            # With the bridge running: the cancel follows the prompt there. Of two prompts, the first is cancelled.
            await adapter.ensure_session()
            first = asyncio.ensure_future(adapter.prompt("say hello", "first"))
            second = asyncio.ensure_future(adapter.prompt("say hello", "second"))
            await asyncio.wait_for(adapter.cancel(), HANG)
            self.assertTrue(first.done())
            self.assertEqual((first.result()["outcome"], first.result()["code"]), ("error", "aborted"))
            self.assertEqual((await asyncio.wait_for(second, HANG))["outcome"], "final")
            self.assert_contract([r for r in sink.replies if r["trace_id"] == "first"], first.result())
            # Nothing left to cancel: cancel() returns at once.
            await asyncio.wait_for(adapter.cancel(), 1)

    assert_contract = DropIn.assert_contract

    @bounded
    async def test_close_sends_close_so_turns_end_now_even_where_the_end_of_input_lets_them_finish(self) -> None:
        ops_file = Path(tempfile.mkdtemp(prefix="opencode-turns-ops-")) / "ops.json"
        self.addCleanup(shutil.rmtree, ops_file.parent, True)
        replies: List[dict] = []
        adapter = OpenCodeAdapter(config(bridge_command=[sys.executable, "-c", STUBBORN_BRIDGE, str(ops_file)]), replies.append)
        turn = asyncio.ensure_future(adapter.prompt("say hello", "stubborn"))
        while not ops_file.exists():
            await asyncio.sleep(0.02)
        started = time.monotonic()
        await asyncio.wait_for(adapter.close(), HANG)
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertEqual(json.loads(ops_file.read_text()), ["prompt", "close"])
        result = await asyncio.wait_for(turn, HANG)
        self.assertEqual((result["outcome"], result["code"]), ("error", "closed"))


if __name__ == "__main__":
    unittest.main()
