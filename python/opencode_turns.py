"""Drive opencode turns from Python: a drop-in ``OpenCodeAdapter`` for taOS and other asyncio hosts.

The adapter starts ``opencode-turns bridge`` as a child process and speaks its line protocol (one
JSON object per line each way, see the project README). The replies the sink receives are exactly
the dicts the TypeScript adapter's sink gets. Standard library only; Python 3.9 or newer.

    async with OpenCodeAdapter(OpenCodeConfig(base_url="http://127.0.0.1:4096"), sink) as adapter:
        result = await adapter.prompt("Explain this repository", "trace-1")
"""
from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
import json
import logging
import os
import shutil
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Union

__all__ = ["OpenCodeAdapter", "OpenCodeConfig", "OpenCodeError"]

logger = logging.getLogger("opencode_turns")

Reply = Dict[str, Any]
Sink = Callable[[Reply], Union[None, Awaitable[None]]]
#: A permission policy: "once", "always", "reject", or a (sync or async) callable taking opencode's
#: permission request and returning one of those or {"reply": ..., "message": ...}.
PermissionPolicy = Union[str, Callable[[Dict[str, Any]], Any]]
#: A question policy: "reject", or a (sync or async) callable taking opencode's question request and
#: returning one list of chosen labels per question, or "reject".
QuestionPolicy = Union[str, Callable[[Dict[str, Any]], Any]]

_PERMISSION_REPLIES = ("once", "always", "reject")
#: How long close() waits for the bridge to end its turns and exit before it is terminated.
_CLOSE_GRACE_SECONDS = 5.0
#: stderr lines of the bridge kept to explain why it stopped.
_STDERR_TAIL = 5


@dataclasses.dataclass
class OpenCodeConfig:
    """taOS's config (same fields and defaults), plus this project's own extras."""

    base_url: str
    """The opencode server, e.g. ``http://127.0.0.1:4096``; empty: the bridge starts its own."""
    server_password: Optional[str] = dataclasses.field(default=None, repr=False)
    """Basic-auth password; None: the environment's ``OPENCODE_SERVER_PASSWORD``."""
    server_username: str = "opencode"
    model_provider_id: str = "litellm"
    model_id: str = ""
    """Empty: the server's default model."""
    agent: Optional[str] = None
    system: Optional[str] = None
    connect_timeout: float = 10.0
    """Seconds for connecting to opencode and for each of its answers."""
    read_timeout: float = 300.0
    """Seconds the event stream may stay silent before it counts as lost."""
    directory: Optional[str] = None
    session_id: Optional[str] = None
    """An opencode session to continue; None: a new one."""
    permissions: PermissionPolicy = "reject"
    questions: QuestionPolicy = "reject"
    turn_timeout: Optional[float] = None
    """Seconds a turn may run before it is stopped with a ``timeout`` error."""
    bridge_command: Optional[List[str]] = None
    """The argv that starts the bridge, e.g. ``["node", "/path/dist/src/cli.js", "bridge"]``."""


_FIELDS = [f.name for f in dataclasses.fields(OpenCodeConfig)]


class OpenCodeError(Exception):
    """``ensure_session()`` could not get a session; ``code`` is one of the reply contract's codes."""

    def __init__(self, message: str, code: str = "internal") -> None:
        super().__init__(message)
        self.code = code


def _settings(config: Any) -> OpenCodeConfig:
    """An OpenCodeConfig from ours, a dict, or any object with (some of) its attributes (taOS's own)."""
    if isinstance(config, OpenCodeConfig):
        settings = config
    else:
        if isinstance(config, dict):
            unknown = sorted(set(config) - set(_FIELDS))
            if unknown:
                raise ValueError(f"unknown OpenCodeConfig keys: {', '.join(unknown)}")
            values = dict(config)
        else:
            values = {name: getattr(config, name) for name in _FIELDS if hasattr(config, name)}
        if "base_url" not in values:
            raise ValueError("the config needs base_url")
        settings = OpenCodeConfig(**values)
    if not (callable(settings.permissions) or settings.permissions in _PERMISSION_REPLIES):
        raise ValueError('permissions must be "once", "always", "reject" or a callable')
    if not (callable(settings.questions) or settings.questions == "reject"):
        raise ValueError('questions must be "reject" or a callable')
    return settings


def _default_command() -> List[str]:
    """``opencode-turns bridge`` from PATH, else the build of the checkout this module sits in."""
    found = shutil.which("opencode-turns")
    if found:
        return [found, "bridge"]
    cli = Path(__file__).resolve().parent.parent / "dist" / "src" / "cli.js"
    return [shutil.which("node") or "node", str(cli), "bridge"]


def _bridge_args(cfg: OpenCodeConfig) -> List[str]:
    """The bridge's options for the config. The password is not one of them: it goes by environment."""
    args: List[str] = []
    if cfg.base_url:
        args += ["--url", cfg.base_url]
    if cfg.server_username:
        args += ["--username", cfg.server_username]
    if cfg.directory:
        args += ["--directory", cfg.directory]
    if cfg.session_id:
        args += ["--session", cfg.session_id]
    if cfg.model_id:
        args += ["--model", f"{cfg.model_provider_id}/{cfg.model_id}"]
    if cfg.agent:
        args += ["--agent", cfg.agent]
    if cfg.system:
        args += ["--system", cfg.system]
    args += ["--permissions", "ask" if callable(cfg.permissions) else str(cfg.permissions)]
    args += ["--questions", "ask" if callable(cfg.questions) else "reject"]
    args += ["--connect-timeout", str(cfg.connect_timeout), "--heartbeat-timeout", str(cfg.read_timeout)]
    if cfg.turn_timeout:
        args += ["--timeout", str(cfg.turn_timeout)]
    return args


class _Turn:
    """One prompt in flight: what is needed to end it well if the bridge cannot."""

    def __init__(self, trace_id: str, future: "asyncio.Future[dict]") -> None:
        self.trace_id = trace_id
        self.result = future
        self.started = time.monotonic()
        self.terminal: Optional[Reply] = None
        # The task awaiting prompt() was cancelled: the host no longer wants this turn's replies.
        self.abandoned = False


class _Bridge:
    """One ``opencode-turns bridge`` child process and what is in flight on it."""

    def __init__(self, proc: "asyncio.subprocess.Process") -> None:
        self.proc = proc
        self.turns: Dict[str, _Turn] = {}
        self.requests: Dict[str, "asyncio.Future[dict]"] = {}
        self.tasks: "set[asyncio.Task]" = set()
        self.stderr_tail: Deque[str] = deque(maxlen=_STDERR_TAIL)
        self.reader: Optional[asyncio.Task] = None

    def send_nowait(self, message: dict) -> bool:
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            return False
        try:
            stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            return True
        except (BrokenPipeError, ConnectionResetError, RuntimeError):
            return False

    async def send(self, message: dict) -> None:
        # A bridge that is gone is found out by the reader, which then ends what was in flight.
        if self.send_nowait(message):
            try:
                await self.proc.stdin.drain()  # type: ignore[union-attr]
            except (BrokenPipeError, ConnectionResetError):
                pass

    def why_gone(self) -> str:
        code = self.proc.returncode
        said = f": {self.stderr_tail[-1]}" if self.stderr_tail else ""
        return f"the opencode-turns bridge exited (code {code}){said}"


class OpenCodeAdapter:
    """Drives opencode turns on one session and hands each reply dict to ``sink``, in order.

    ``prompt()`` never raises: every failure ends the turn with an ``error`` reply and result.
    Prompts given while one runs wait their turn (in call order).
    """

    def __init__(self, config: Any, sink: Sink, *, log: Optional[logging.Logger] = None) -> None:
        self._cfg = _settings(config)
        self._sink = sink
        self._log = log or logger
        self._ids = itertools.count(1)
        self._bridge: Optional[_Bridge] = None
        self._starting: Optional["asyncio.Future[_Bridge]"] = None
        self._closing: Optional["asyncio.Future[None]"] = None
        self._closed = False
        self._session_id: Optional[str] = self._cfg.session_id
        #: Every model change the turns reported (``{providerID, modelID, source, at}``), for reconciling.
        self.model_changes: List[dict] = []

    @property
    def session_id(self) -> Optional[str]:
        """The opencode session: the configured one, or the one the first turn (or ensure_session) made."""
        return self._session_id

    async def __aenter__(self) -> "OpenCodeAdapter":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def ensure_session(self) -> str:
        """Makes sure the session exists (checked, or created) and returns its id; raises OpenCodeError."""
        if self._closed:
            raise OpenCodeError("The adapter is closed; create a new one.", "closed")
        bridge = await self._start()
        answer = await self._request(bridge, {"op": "session"})
        self._session_id = answer["session_id"]
        return self._session_id

    async def prompt(self, text: str, trace_id: Optional[str] = None, attachments: Optional[List[dict]] = None) -> dict:
        """Runs one turn and returns its TurnResult dict. Never raises (but lets a cancellation through)."""
        loop = asyncio.get_running_loop()
        turn = _Turn(trace_id or str(uuid.uuid4()), loop.create_future())
        if self._closed:
            return await self._end(turn, "closed", "The adapter is closed; create a new one to prompt again.")
        prompt_id = f"p{next(self._ids)}"
        request: dict = {"id": prompt_id, "op": "prompt", "text": text, "trace_id": turn.trace_id}
        if attachments:
            request["attachments"] = list(attachments)
        try:
            json.dumps(request)
        except (TypeError, ValueError) as error:
            return await self._end(turn, "bad_request", f"The prompt cannot be sent as JSON: {error}")
        try:
            bridge = await self._start()
        except OpenCodeError as error:
            return await self._end(turn, error.code, str(error))
        except Exception as error:  # noqa: BLE001 - prompt() never raises
            return await self._end(turn, "internal", f"Cannot start the opencode-turns bridge: {error}")
        bridge.turns[prompt_id] = turn
        try:
            await bridge.send(request)
            return await asyncio.shield(turn.result)
        except asyncio.CancelledError:
            # The host stopped waiting (a timeout around prompt()): stop the turn on the server too.
            turn.abandoned = True
            bridge.send_nowait({"op": "cancel", "id": prompt_id})
            raise

    async def cancel(self) -> None:
        """Cancels the running turn, if any, and returns once it has ended."""
        bridge = self._bridge
        if bridge is None or not bridge.turns:
            return
        prompt_id, turn = next(iter(bridge.turns.items()))
        await bridge.send({"op": "cancel", "id": prompt_id})
        await asyncio.wait([turn.result])

    async def close(self) -> None:
        """Ends every turn (with a ``closed`` error) and the bridge process; further prompts end in an error."""
        self._closed = True
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._shut_down())
        await asyncio.shield(self._closing)

    async def _shut_down(self) -> None:
        if self._starting is not None:
            await asyncio.wait([self._starting])
        bridge, self._bridge = self._bridge, None
        if bridge is None:
            return
        proc = bridge.proc
        # Standard input closing is the bridge's signal to end its turns and exit.
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        grace = _CLOSE_GRACE_SECONDS + self._cfg.connect_timeout
        try:
            await asyncio.wait_for(proc.wait(), timeout=grace)
        except asyncio.TimeoutError:
            self._log.warning("opencode-turns: the bridge did not exit within %.0f s; terminating it", grace)
            for stop in (proc.terminate, proc.kill):
                try:
                    stop()
                    await asyncio.wait_for(proc.wait(), timeout=_CLOSE_GRACE_SECONDS)
                    break
                except ProcessLookupError:
                    break
                except asyncio.TimeoutError:
                    continue
        # A sink may call close(): the reader is then the caller and must not wait for itself.
        if bridge.reader is not None and bridge.reader is not asyncio.current_task():
            await asyncio.wait([bridge.reader])

    async def _start(self) -> _Bridge:
        """The running bridge, started on first use (and again after one died)."""
        if self._bridge is not None and self._bridge.proc.returncode is None:
            return self._bridge
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._spawn())
        starting = self._starting
        try:
            return await asyncio.shield(starting)
        finally:
            if self._starting is starting and starting.done():
                self._starting = None

    async def _spawn(self) -> _Bridge:
        command = list(self._cfg.bridge_command or _default_command()) + _bridge_args(self._cfg)
        env = dict(os.environ)
        if self._cfg.server_password is not None:
            env["OPENCODE_SERVER_PASSWORD"] = self._cfg.server_password
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as error:
            raise OpenCodeError(
                f"Cannot start the opencode-turns bridge ({command[0]}: {error.strerror or error}); "
                "install opencode-turns, or set bridge_command.",
                "unreachable",
            ) from None
        bridge = _Bridge(proc)
        bridge.reader = asyncio.ensure_future(self._read(bridge))
        self._bridge = bridge
        return bridge

    async def _request(self, bridge: _Bridge, message: dict) -> dict:
        request_id = f"r{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        bridge.requests[request_id] = future
        await bridge.send({"id": request_id, **message})
        return await future

    async def _read(self, bridge: _Bridge) -> None:
        """Reads the bridge's lines until it exits, then ends whatever it left in flight."""
        errors = asyncio.ensure_future(self._read_stderr(bridge))
        buffer = bytearray()
        try:
            while True:
                chunk = await bridge.proc.stdout.read(1 << 16)  # type: ignore[union-attr]
                if not chunk:
                    break
                buffer += chunk
                start = 0
                while True:
                    end = buffer.find(b"\n", start)
                    if end < 0:
                        break
                    await self._on_line(bridge, bytes(buffer[start:end]))
                    start = end + 1
                del buffer[:start]
        except Exception:  # noqa: BLE001 - whatever broke, the turns in flight must still end
            self._log.exception("opencode-turns: reading the bridge failed")
        finally:
            await errors
            await bridge.proc.wait()
            if self._bridge is bridge:
                self._bridge = None
            await self._bridge_gone(bridge)

    async def _read_stderr(self, bridge: _Bridge) -> None:
        stream = bridge.proc.stderr
        assert stream is not None
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                bridge.stderr_tail.append(text)
                self._log.warning("%s", text)

    async def _on_line(self, bridge: _Bridge, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            self._log.warning("opencode-turns: the bridge wrote a line that is not JSON")
            return
        if not isinstance(message, dict):
            return
        key = message.get("id")
        turn = bridge.turns.get(key) if isinstance(key, str) else None
        if "reply" in message and turn is not None:
            await self._deliver(turn, message["reply"])
        elif "result" in message and turn is not None:
            del bridge.turns[key]
            self._finish(turn, message["result"])
        elif "ask" in message:
            task = asyncio.ensure_future(self._answer(bridge, message["ask"]))
            bridge.tasks.add(task)
            task.add_done_callback(bridge.tasks.discard)
        elif "error" in message:
            if turn is not None:
                # The bridge refused the prompt (an invalid attachment, say): it ends here.
                del bridge.turns[key]
                await self._end(turn, message.get("code") or "bad_request", str(message["error"]))
            elif isinstance(key, str) and key in bridge.requests:
                bridge.requests.pop(key).set_exception(OpenCodeError(str(message["error"]), message.get("code") or "internal"))
            else:
                self._log.warning("opencode-turns bridge: %s", message["error"])
        elif isinstance(key, str) and key in bridge.requests:
            future = bridge.requests.pop(key)
            if not future.done():
                future.set_result(message)

    async def _deliver(self, turn: _Turn, reply: Reply) -> None:
        if turn.abandoned:
            return
        if reply.get("kind") in ("final", "error"):
            turn.terminal = reply
        try:
            pending = self._sink(reply)
            if inspect.isawaitable(pending):
                await pending
        except Exception:  # noqa: BLE001 - a sink that raises is logged and the turn goes on
            self._log.exception("opencode-turns: the sink raised on a %s reply; the turn goes on", reply.get("kind"))

    def _finish(self, turn: _Turn, result: dict) -> None:
        if result.get("session_id"):
            self._session_id = result["session_id"]
        self.model_changes.extend(result.get("model_changes") or [])
        if not turn.result.done():
            turn.result.set_result(result)

    async def _end(self, turn: _Turn, code: str, error: str) -> dict:
        """Ends a turn the bridge cannot end: one terminal reply (unless one was sent) and its result."""
        if turn.terminal is None:
            await self._deliver(turn, {"kind": "error", "trace_id": turn.trace_id, "error": error, "code": code})
            terminal: Reply = {"kind": "error", "error": error, "code": code}
        else:
            terminal = turn.terminal
        result: dict = {"trace_id": turn.trace_id}
        if self._session_id:
            result["session_id"] = self._session_id
        if terminal.get("kind") == "final":
            result.update(outcome="final", content=terminal.get("content", ""))
        else:
            result.update(outcome="error", error=terminal.get("error", error), code=terminal.get("code", code))
        result.update(model_changes=[], duration_ms=round((time.monotonic() - turn.started) * 1000))
        self._finish(turn, result)
        return result

    async def _bridge_gone(self, bridge: _Bridge) -> None:
        for task in list(bridge.tasks):
            task.cancel()
        reason = bridge.why_gone()
        for future in bridge.requests.values():
            if not future.done():
                future.set_exception(OpenCodeError(f"No answer: {reason}.", "internal"))
        bridge.requests.clear()
        turns, bridge.turns = list(bridge.turns.values()), {}
        for turn in turns:
            code = "closed" if self._closed else "internal"
            await self._end(turn, code, f"The turn ended without its result: {reason}.")

    async def _answer(self, bridge: _Bridge, ask: dict) -> None:
        """Decides an ask with the configured callable and sends the decision; a failure rejects."""
        kind = ask.get("kind")
        policy = self._cfg.permissions if kind == "permission" else self._cfg.questions
        decision: Any = "reject"
        if callable(policy):
            try:
                decision = policy(ask.get("request") or {})
                if inspect.isawaitable(decision):
                    decision = await decision
            except Exception:  # noqa: BLE001 - a failing policy rejects, as in the TypeScript adapter
                self._log.exception("opencode-turns: the %s policy raised; rejecting the ask", kind)
                decision = "reject"
        if not _valid_decision(kind, decision):
            self._log.warning("opencode-turns: the %s policy returned %r; rejecting the ask", kind, decision)
            decision = "reject"
        await bridge.send({"op": "answer", "ask_id": ask.get("ask_id"), "decision": decision})


def _valid_decision(kind: Any, decision: Any) -> bool:
    if kind == "permission":
        if isinstance(decision, dict):
            return decision.get("reply") in _PERMISSION_REPLIES and isinstance(decision.get("message", ""), str)
        return decision in _PERMISSION_REPLIES
    if decision == "reject":
        return True
    return isinstance(decision, list) and all(isinstance(a, list) and all(isinstance(x, str) for x in a) for a in decision)
