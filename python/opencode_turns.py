"""Drive opencode turns from Python: a drop-in ``OpenCodeAdapter`` for taOS and other asyncio hosts.

The adapter starts ``opencode-turns bridge`` as a child process and speaks its line protocol (one
JSON object per line each way, see the project README). The replies the sink receives are exactly
the dicts the TypeScript adapter's sink gets. Standard library only; Python 3.9 or newer.

    async with OpenCodeAdapter(OpenCodeConfig(base_url="http://127.0.0.1:4096"), sink) as adapter:
        result = await adapter.prompt("Explain this repository", "trace-1")
"""
from __future__ import annotations

import asyncio
import contextvars
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
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Tuple, Union
from urllib.parse import unquote

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
    """The opencode server, e.g. ``http://127.0.0.1:4096``; empty: the bridge starts its own.

    Credentials in it (``http://user:pw@host``) are taken as the username and password, as the
    TypeScript config takes them: the bridge gets the URL without them and them by environment.
    Give them there or in ``server_password`` / ``server_username``, not both (prompts then end
    with a ``bad_request`` error)."""
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
    """The argv that starts the bridge, e.g. ``["node", "/path/dist/src/cli/main.js", "bridge"]``."""

    def __repr__(self) -> str:
        # The generated repr, with a password in base_url masked (server_password is left out).
        shown = []
        for field in dataclasses.fields(self):
            if not field.repr:
                continue
            value = getattr(self, field.name)
            if field.name == "base_url" and isinstance(value, str):
                value = _masked_url(value)
            shown.append(f"{field.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


_FIELDS = [f.name for f in dataclasses.fields(OpenCodeConfig)]
_DEFAULT_USERNAME = "opencode"


def _split_url(url: str) -> Tuple[str, str, str]:
    """``(before the userinfo, the userinfo, after it)``; the userinfo is "" when the URL has none."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, "", ""
    end = len(rest)
    for stop in "/?#\\":
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url, "", ""
    return f"{scheme}://", userinfo, host + rest[end:]


def _url_credentials(url: str) -> Tuple[str, Optional[str], Optional[str]]:
    """The URL without its userinfo, and the username and password it held (percent-decoded), or None."""
    before, userinfo, after = _split_url(url)
    if not userinfo and before == url:
        return url, None, None
    user, _, password = userinfo.partition(":")
    return before + after, (unquote(user) or None), (unquote(password) or None)


def _masked_url(url: str) -> str:
    before, userinfo, after = _split_url(url)
    if ":" not in userinfo:
        return url
    return f"{before}{userinfo.partition(':')[0]}:***@{after}"


def _config_problem(cfg: "OpenCodeConfig") -> Optional[str]:
    """What the TypeScript config would refuse of the credentials (it throws a ConfigError), or None."""
    _, user, password = _url_credentials(cfg.base_url or "")
    if (user is not None or password is not None) and (
        cfg.server_password is not None or cfg.server_username not in ("", _DEFAULT_USERNAME)
    ):
        return (
            "Invalid opencode-turns config: base_url holds credentials and so does server_password "
            "(or server_username); give them in one place."
        )
    return None


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
    cli = Path(__file__).resolve().parent.parent / "dist" / "src" / "cli" / "main.js"
    return [shutil.which("node") or "node", str(cli), "bridge"]


def _bridge_args(cfg: OpenCodeConfig, session_id: Optional[str]) -> List[str]:
    """The bridge's options for the config, on ``session_id`` (the session in use, so a bridge
    started again after one died goes on with the same conversation). No credential is one of them
    (any process may read a command line): the password, and whatever base_url holds, go by
    environment (``_bridge_env``)."""
    args: List[str] = []
    url, url_user, _ = _url_credentials(cfg.base_url or "")
    if url:
        args += ["--url", url]
    if cfg.server_username and url_user is None:
        args += ["--username", cfg.server_username]
    if cfg.directory:
        args += ["--directory", cfg.directory]
    if session_id:
        args += ["--session", session_id]
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


def _bridge_env(cfg: OpenCodeConfig, base: Dict[str, str]) -> Dict[str, str]:
    """The bridge's environment: ``base`` with the password, and the credentials base_url held."""
    env = dict(base)
    if cfg.server_password is not None:
        env["OPENCODE_SERVER_PASSWORD"] = cfg.server_password
    _, url_user, url_password = _url_credentials(cfg.base_url or "")
    if url_user is not None:
        env["OPENCODE_SERVER_USERNAME"] = url_user
    if url_password is not None:
        env["OPENCODE_SERVER_PASSWORD"] = url_password
    return env


class _HostCall:
    """A call into the host's code (the sink, a policy) that the reader, or an ask, waits for."""

    __slots__ = ("owner", "settled", "followers")

    def __init__(self, owner: object) -> None:
        self.owner = owner
        self.settled = False
        # Refusals made inside the call with no turn ahead of them: delivered once the call returns.
        self.followers: List[Tuple["_Turn", Reply]] = []


#: The host call the running code is part of: set around each sink and policy call, and copied into
#: the tasks it starts (as TypeScript's AsyncLocalStorage is), so also seen from those.
_HOST_CALL: "contextvars.ContextVar[Optional[_HostCall]]" = contextvars.ContextVar("opencode_turns_host_call", default=None)


class _Turn:
    """One prompt in flight: what is needed to end it well if the bridge cannot."""

    def __init__(self, trace_id: str, future: "asyncio.Future[dict]") -> None:
        self.trace_id = trace_id
        self.result = future
        self.started = time.monotonic()
        self.terminal: Optional[Reply] = None
        # The task awaiting prompt() was cancelled: the host no longer wants this turn's replies.
        self.abandoned = False
        # Refused prompts whose error reply goes to the sink after this turn's replies.
        self.followers: List[Tuple["_Turn", Reply]] = []


class _Bridge:
    """One ``opencode-turns bridge`` child process and what is in flight on it."""

    def __init__(self, proc: "asyncio.subprocess.Process") -> None:
        self.proc = proc
        self.turns: Dict[str, _Turn] = {}
        self.requests: Dict[str, "asyncio.Future[dict]"] = {}
        self.tasks: "set[asyncio.Task]" = set()
        self.stderr_tail: Deque[str] = deque(maxlen=_STDERR_TAIL)
        self.reader: Optional[asyncio.Task] = None
        # Set once the reader has ended what was in flight: a turn registered after that is never ended by it.
        self.gone = False

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

    The sink is awaited by the task that reads the bridge, so a sink (or a policy) must not wait for
    a turn: ``prompt()`` called from inside one (or from a task it started, while it runs) ends at
    once with a ``bad_request`` error result, whose error reply reaches the sink after the replies
    of the turns ahead of it; ``cancel()`` there sends the cancel and returns without waiting for
    the turn to end; ``ensure_session()`` there raises OpenCodeError (``bad_request``); ``close()``
    may be called there.
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
        # A config the TypeScript config would refuse: every prompt ends with it, as an error result.
        self._config_error = _config_problem(self._cfg)
        # Turns sent to the bridge until their result, in order: a refused prompt's reply goes after theirs.
        self._open: Dict[_Turn, None] = {}
        #: Every model change the turns' results reported (``{providerID, modelID, source, at}``), for
        #: reconciling. Unlike the TypeScript adapter's ``modelChanges`` (updated as each change is seen,
        #: also between turns), this grows only when a result comes: a change seen between two turns
        #: is added with the next turn's result, and one after the last turn is never added. The
        #: bridge protocol reports model changes only in results.
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
        if _inside_host_call(self):
            # The bridge answers `session` after the running turn, whose lines wait for this call.
            raise OpenCodeError(
                "ensure_session() was called from inside this adapter's sink or policy, where it would wait for "
                "itself; call it after that call has returned (session_id holds the session once a turn has run).",
                "bad_request",
            )
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
        if _inside_host_call(self):
            # Awaited there, this turn would wait for the reader, and the reader for the sink.
            return self._refuse_at_once(
                turn,
                "bad_request",
                "prompt() was called from inside this adapter's sink or policy, where it would wait for itself; "
                "call it after that call has returned.",
            )
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
        self._open[turn] = None
        if bridge.gone or bridge.proc.returncode is not None:
            # The bridge exited after _start() returned it: its reader may already have ended what was
            # in flight, and then would never end this turn.
            del bridge.turns[prompt_id]
            code = "closed" if self._closed else "internal"
            return await self._end(turn, code, f"The turn ended without its result: {bridge.why_gone()}.")
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
        if _inside_host_call(self):
            # The turn ends on lines the reader reads once this sink (or policy) call returns.
            bridge.send_nowait({"op": "cancel", "id": prompt_id})
            return
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
        # `close` ends the bridge's turns at once (input ending alone would let them finish); then it exits.
        bridge.send_nowait({"id": "close", "op": "close"})
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
        if self._config_error is not None:
            raise OpenCodeError(self._config_error, "bad_request")
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
        command = list(self._cfg.bridge_command or _default_command()) + _bridge_args(self._cfg, self._session_id)
        env = _bridge_env(self._cfg, dict(os.environ))
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
            await self._deliver_followers(turn.followers)
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
            await self._host_call(self._sink, reply)
        except Exception:  # noqa: BLE001 - a sink that raises is logged and the turn goes on
            self._log.exception("opencode-turns: the sink raised on a %s reply; the turn goes on", reply.get("kind"))

    async def _host_call(self, call: Callable[[Any], Any], argument: Any) -> Any:
        """Calls the host's sink or policy (awaiting what it returns) as a host call of this adapter;
        then delivers the refusals made inside it that had no turn ahead of them."""
        marker = _HostCall(self)
        token = _HOST_CALL.set(marker)
        try:
            value = call(argument)
            if inspect.isawaitable(value):
                value = await value
            return value
        finally:
            marker.settled = True
            _HOST_CALL.reset(token)
            await self._deliver_followers(marker.followers)

    async def _deliver_followers(self, followers: List[Tuple[_Turn, Reply]]) -> None:
        # A follower's sink call may refuse another prompt, which may land on this same list.
        while followers:
            turn, reply = followers.pop(0)
            await self._deliver(turn, reply)

    def _refuse_at_once(self, turn: _Turn, code: str, error: str) -> dict:
        """Ends a prompt made inside a host call without waiting: its result now, its error reply to
        the sink after the replies of the turns ahead (or, with none, once the host call returns)."""
        reply: Reply = {"kind": "error", "trace_id": turn.trace_id, "error": error, "code": code}
        ahead = next(reversed(self._open), None) if self._open else None
        marker = _HOST_CALL.get()
        if ahead is not None:
            ahead.followers.append((turn, reply))
        elif marker is not None:
            marker.followers.append((turn, reply))
        result: dict = {"trace_id": turn.trace_id}
        if self._session_id:
            result["session_id"] = self._session_id
        result.update(outcome="error", error=error, code=code, model_changes=[], duration_ms=0)
        turn.result.set_result(result)
        return result

    def _finish(self, turn: _Turn, result: dict) -> None:
        self._open.pop(turn, None)
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
        await self._deliver_followers(turn.followers)
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
        bridge.gone = True
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
                # A host call: the ask's turn waits for it, so a prompt() made inside it is refused.
                decision = await self._host_call(policy, ask.get("request") or {})
            except Exception:  # noqa: BLE001 - a failing policy rejects, as in the TypeScript adapter
                self._log.exception("opencode-turns: the %s policy raised; rejecting the ask", kind)
                decision = "reject"
        if not _valid_decision(kind, decision):
            self._log.warning("opencode-turns: the %s policy returned %r; rejecting the ask", kind, decision)
            decision = "reject"
        await bridge.send({"op": "answer", "ask_id": ask.get("ask_id"), "decision": decision})


def _inside_host_call(owner: object) -> bool:
    """Whether the running code is part of a sink or policy call of ``owner`` that has not returned."""
    call = _HOST_CALL.get()
    return call is not None and call.owner is owner and not call.settled


def _valid_decision(kind: Any, decision: Any) -> bool:
    if kind == "permission":
        if isinstance(decision, dict):
            return decision.get("reply") in _PERMISSION_REPLIES and isinstance(decision.get("message", ""), str)
        return decision in _PERMISSION_REPLIES
    if decision == "reject":
        return True
    return isinstance(decision, list) and all(isinstance(a, list) and all(isinstance(x, str) for x in a) for a in decision)
