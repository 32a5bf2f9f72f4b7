"""Tests of opencode_turns against a real opencode server (started by test/e2e/bridge.test.ts,
which passes it in OPENCODE_TURNS_TEST_*), called the way taOS's ``drive_turn`` calls its adapter."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import unittest
from typing import Any, Callable, List, Optional

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
        self.assertIn("--url", opencode_turns._bridge_args(adapter._cfg))


if __name__ == "__main__":
    unittest.main()
