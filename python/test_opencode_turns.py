"""Tests of opencode_turns against a real opencode server (started by test/e2e/bridge.test.ts,
which passes it in OPENCODE_TURNS_TEST_*), called the way taOS's ``drive_turn`` calls its adapter."""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import signal
import unittest
from typing import Any, Callable, List, Optional, Tuple

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
        # base_url "": the bridge starts opencode itself; --demo makes that one use the built-in
        # offline model, so this runs without a provider.
        sink = Recorder()
        below: List[Tuple[int, str]] = []
        adapter = OpenCodeAdapter(OpenCodeConfig(base_url="", bridge_command=opencode_turns._default_command() + ["--demo"]), sink)

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


if __name__ == "__main__":
    unittest.main()
