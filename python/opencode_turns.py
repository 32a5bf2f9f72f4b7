"""Drive opencode turns from Python: a drop-in ``OpenCodeAdapter`` for taOS and other asyncio hosts.

The adapter starts ``opencode-turns bridge`` as a child process and speaks its line protocol (one
JSON object per line each way, see the project README). The replies the sink receives are exactly
the dicts the TypeScript adapter's sink gets. Standard library only; Python 3.9 or newer.

    import asyncio
    from opencode_turns import OpenCodeAdapter, OpenCodeConfig

    async def main() -> None:
        # base_url="" and demo=True: the bridge starts its own opencode with an offline model.
        async with OpenCodeAdapter(OpenCodeConfig(base_url="", demo=True), print) as adapter:
            result = await adapter.prompt("Explain this repository", "trace-1")
        print(result["outcome"])

    asyncio.run(main())

The bridge is found as ``find_bridge()`` says; ``python -m opencode_turns`` prints where.
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
import shlex
import shutil
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Tuple, Union
from urllib.parse import unquote

__all__ = ["BRIDGE_ENV", "OpenCodeAdapter", "OpenCodeConfig", "OpenCodeError", "find_bridge"]

#: The version of the opencode-turns npm package this module belongs to (and of its distribution).
__version__ = "0.1.0"

#: The environment variable that names the bridge: the CLI's path, or a command line (see ``find_bridge``).
BRIDGE_ENV = "OPENCODE_TURNS_BRIDGE"

#: The opencode-turns checkout this module was installed from (``pip install ./python``), written
#: into the installed copy by the build backend; None in the source tree and in copies of it.
_BUILT_FROM: Optional[str] = None

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
_VOCABULARIES = ("core", "full")
#: How long close() waits for the bridge to end its turns and exit before it is terminated.
_CLOSE_GRACE_SECONDS = 5.0
#: stderr lines of the bridge kept to explain why it stopped.
_STDERR_TAIL = 5
#: The request close() sends (its answer, ``{"id": "close", "closed": true}``, is not waited for).
_CLOSE_REQUEST = {"id": "close", "op": "close"}
_CLOSE_LINE = (json.dumps(_CLOSE_REQUEST) + "\n").encode("utf-8")


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
    """The argv that starts the bridge, e.g. ``["node", "/path/dist/src/cli/main.js", "bridge"]``;
    None: the one ``find_bridge()`` finds."""
    demo: bool = False
    """With ``base_url=""``: the opencode the bridge starts gets a built-in offline model (the
    bridge's ``--demo``), to try the adapter with no provider configured."""
    vocabulary: str = "core"
    """The replies of every turn: ``"core"`` (the six core kinds) or ``"full"`` (also todos, steps,
    live tool output, diffs, subagent work, asks, retries); a prompt's ``vocabulary`` wins."""

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
    """What the TypeScript config would refuse of the credentials (it throws a ConfigError), or
    what the bridge would refuse of ``demo`` (a usage error), or None."""
    if cfg.demo and cfg.base_url:
        return "Invalid opencode-turns config: demo=True starts its own opencode; set base_url=\"\"."
    if cfg.demo and cfg.directory:
        return "Invalid opencode-turns config: demo=True runs in a temporary directory of its own; leave out directory."
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
    """``ensure_session()`` could not get a session, or a session operation (history, fork, revert,
    unrevert, sessions) failed; ``code`` is one of the reply contract's codes."""

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
    if settings.vocabulary not in _VOCABULARIES:
        raise ValueError('vocabulary must be "core" or "full"')
    return settings


#: The built CLI inside a checkout or npm package, newest layout first.
_CLI_ENTRIES = (("dist", "src", "cli", "main.js"), ("dist", "src", "cli.js"))
_JS_SUFFIXES = (".js", ".mjs", ".cjs")
_INSTALL_HINT = (
    "Install the bridge (Node.js 20.18.1 or newer): `npm install -g opencode-turns` puts it on PATH, or "
    "`npm install opencode-turns` in your project gives node_modules/.bin/opencode-turns; or set "
    f"{BRIDGE_ENV} to the CLI's path (or to a command line that starts `opencode-turns bridge`); or pass "
    'OpenCodeConfig(bridge_command=["node", "/path/to/opencode-turns/dist/src/cli/main.js", "bridge"]). '
    "In a checkout of opencode-turns, run `npm ci && npm run build` first."
)


def find_bridge() -> List[str]:
    """The argv that starts ``opencode-turns bridge`` when the config has no ``bridge_command``.

    Looked for in this order: ``$OPENCODE_TURNS_BRIDGE`` (a path to the CLI, to a checkout or npm
    package folder, or a whole command line such as ``npx --no-install opencode-turns bridge``);
    ``opencode-turns`` on PATH; ``node_modules/.bin/opencode-turns`` in the current directory or
    one of its parents; the built CLI (``dist/src/cli/main.js``, or the older ``dist/src/cli.js``)
    of the checkout or npm package this module sits in, then of the checkout it was installed
    from. Raises OpenCodeError (code ``unreachable``) saying what to do when none is found.
    """
    return _find_bridge(os.environ, Path.cwd(), Path(__file__).resolve().parent.parent, _BUILT_FROM)


def _find_bridge(environ: Any, cwd: Path, module_root: Path, built_from: Optional[str]) -> List[str]:
    path = environ.get("PATH", os.defpath)
    value = (environ.get(BRIDGE_ENV) or "").strip()
    if value:
        return _bridge_from_env(value, path)
    found = shutil.which("opencode-turns", path=path)
    if found:
        return [found, "bridge"]
    for directory in (cwd, *cwd.parents):
        candidate = directory / "node_modules" / ".bin" / "opencode-turns"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate), "bridge"]
    roots = [module_root] + ([Path(built_from)] if built_from else [])
    for root in roots:
        cli = _built_cli(root)
        if cli is not None:
            return [_node(path, cli), str(cli), "bridge"]
    unbuilt = [str(root) for root in roots if (root / "package.json").is_file()]
    looked = (
        f"${BRIDGE_ENV} (not set), opencode-turns on PATH, node_modules/.bin/opencode-turns in {cwd} and its "
        f"parents, and a built CLI ({' or '.join('/'.join(entry) for entry in _CLI_ENTRIES)}) in "
        f"{' and '.join(str(root) for root in roots)}"
    )
    built = f" {' and '.join(unbuilt)} has no built CLI: run `npm ci && npm run build` there." if unbuilt else ""
    raise OpenCodeError(f"Cannot find the opencode-turns bridge. Looked for {looked}.{built} {_INSTALL_HINT}", "unreachable")


def _built_cli(root: Path) -> Optional[Path]:
    for entry in _CLI_ENTRIES:
        cli = root.joinpath(*entry)
        if cli.is_file():
            return cli
    return None


def _node(path: str, cli: Path) -> str:
    node = shutil.which("node", path=path)
    if node is None:
        raise OpenCodeError(
            f"Found the opencode-turns bridge at {cli}, but no `node` on PATH to run it: install Node.js 20.18.1 or newer.",
            "unreachable",
        )
    return node


def _bridge_from_env(value: str, path: str) -> List[str]:
    """``$OPENCODE_TURNS_BRIDGE``: a path (the CLI, or a folder holding a built one) or a command line."""
    where = Path(value).expanduser()
    if where.is_dir():
        cli = _built_cli(where)
        if cli is None:
            raise OpenCodeError(
                f"{BRIDGE_ENV}={value} is a folder without a built CLI "
                f"({' or '.join('/'.join(entry) for entry in _CLI_ENTRIES)}): run `npm ci && npm run build` there, "
                "or point it at the CLI itself.",
                "unreachable",
            )
        return [_node(path, cli), str(cli), "bridge"]
    if where.is_file():
        if where.suffix in _JS_SUFFIXES:
            return [_node(path, where), str(where), "bridge"]
        return [str(where), "bridge"]
    try:
        words = shlex.split(value)
    except ValueError as error:
        raise OpenCodeError(f"{BRIDGE_ENV} is not a path nor a command line ({error}): {value}", "unreachable") from None
    if not words or shutil.which(words[0], path=path) is None:
        raise OpenCodeError(
            f"{BRIDGE_ENV}={value} names no file, and {words[0] if words else 'its first word'} is not a program on PATH. "
            "Set it to the path of the opencode-turns CLI (or of a checkout or npm package folder holding a built one), "
            "or to a command line that starts the bridge, e.g. `npx --no-install opencode-turns bridge`.",
            "unreachable",
        )
    # One word is a program, the CLI: its bridge command. More words are the whole command line.
    return words + ["bridge"] if len(words) == 1 else words


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
    if cfg.vocabulary != "core":
        args += ["--vocabulary", cfg.vocabulary]
    if cfg.demo:
        args += ["--demo"]
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
        # cancel() chose this turn: one not yet sent is not sent, and ends aborted.
        self.cancelled = False
        # The bridge it was sent to, and its id there; None until it is sent.
        self.bridge: Optional["_Bridge"] = None
        self.prompt_id = ""


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
        # The event loop the adapter was first used on: its bridge, futures and tasks belong to it.
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._session_id: Optional[str] = self._cfg.session_id
        # A config the TypeScript config would refuse: every prompt ends with it, as an error result.
        self._config_error = _config_problem(self._cfg)
        # Turns sent to the bridge until their result, in order: a refused prompt's reply goes after theirs.
        self._open: Dict[_Turn, None] = {}
        # Turns from the moment prompt() began until their result, in call order: cancel() ends the
        # first, also before it is sent.
        self._asked: Dict[_Turn, None] = {}
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
        other_loop = self._other_loop()
        if other_loop is not None:
            raise OpenCodeError(other_loop, "bad_request")
        bridge = await self._start()
        answer = await self._request(bridge, {"op": "session"})
        self._session_id = answer["session_id"]
        return self._session_id

    async def prompt(
        self,
        text: str,
        trace_id: Optional[str] = None,
        attachments: Optional[List[dict]] = None,
        *,
        vocabulary: Optional[str] = None,
        model: Optional[Dict[str, str]] = None,
        agent: Optional[str] = None,
        variant: Optional[str] = None,
        system: Optional[str] = None,
        tools: Optional[Dict[str, bool]] = None,
        format: Optional[dict] = None,  # noqa: A002 - the bridge's name for it
    ) -> dict:
        """Runs one turn and returns its TurnResult dict. Never raises (but lets a cancellation through).

        The keyword options are this turn's only (the config's agent and system otherwise):
        ``vocabulary`` "core" or "full"; ``model`` ``{"providerID", "modelID"}``; ``agent``;
        ``variant`` (the model's reasoning variant); ``system``; ``tools`` ``{name: enabled}``;
        ``format`` a JSON Schema the answer must follow (the result's ``structured``). An option
        the bridge refuses ends the turn with a ``bad_request`` error."""
        fields: dict = {"op": "prompt", "text": text}
        if attachments:
            fields["attachments"] = list(attachments)
        fields.update(_turn_options(vocabulary=vocabulary, model=model, agent=agent, variant=variant, system=system, tools=tools, format=format))
        return await self._turn(trace_id, fields)

    async def command(
        self,
        name: str,
        arguments: str = "",
        trace_id: Optional[str] = None,
        *,
        model: Optional[Dict[str, str]] = None,
        agent: Optional[str] = None,
        variant: Optional[str] = None,
    ) -> dict:
        """Runs opencode's command ``name`` (``/name arguments``) as a turn, like prompt(): its replies
        go to the sink, its TurnResult dict is returned; never raises. It takes no system, tools or
        format: opencode's command endpoint has no such fields."""
        fields: dict = {"op": "command", "name": name}
        if arguments:
            fields["arguments"] = arguments
        fields.update(_turn_options(model=model, agent=agent, variant=variant))
        return await self._turn(trace_id, fields)

    async def summarize(self, trace_id: Optional[str] = None, model: Optional[Dict[str, str]] = None) -> dict:
        """Compacts the session (opencode's summary of it, with ``model`` or the session's) as a turn,
        like prompt(): its replies go to the sink, its TurnResult dict is returned; never raises."""
        return await self._turn(trace_id, {"op": "summarize", **_turn_options(model=model)})

    async def history(self, vocabulary: Optional[str] = None) -> List[dict]:
        """The session's turns, oldest first: ``{"message_id", "text", "replies"}`` each (``text`` the
        host's prompt, ``replies`` its turn's replies). ``vocabulary`` ("core" or "full"; default the
        config's): "full" also replays the stored todos, steps, tool details, compactions and each
        subagent's work nested under its task call. Raises OpenCodeError."""
        return (await self._operation("history", **({"vocabulary": vocabulary} if vocabulary else {})))["history"]

    async def fork(self, message_id: Optional[str] = None) -> str:
        """A new opencode session holding this one's turns (up to ``message_id``, a history()
        ``message_id``; all without it); returns its id. This adapter stays on its session. Raises OpenCodeError."""
        return (await self._operation("fork", **({"message_id": message_id} if message_id else {})))["forked"]

    async def revert(self, message_id: str) -> None:
        """Undoes the session from the turn ``message_id`` (a history() ``message_id``) on: its
        messages and file changes. Raises OpenCodeError (``bad_request`` for an unknown id)."""
        await self._operation("revert", message_id=message_id)

    async def unrevert(self) -> None:
        """Brings back what the last revert() undid. Raises OpenCodeError."""
        await self._operation("unrevert")

    async def sessions(self) -> List[dict]:
        """The opencode server's sessions, as it lists them (each with its ``id``). Raises OpenCodeError."""
        return (await self._operation("sessions"))["sessions"]

    async def _operation(self, op: str, **fields: Any) -> dict:
        """Sends a one-line session operation and returns its answer; an ``error`` line raises OpenCodeError."""
        if self._closed:
            raise OpenCodeError("The adapter is closed; create a new one.", "closed")
        if _inside_host_call(self):
            # The bridge answers after the running turn, whose lines wait for this call.
            raise OpenCodeError(
                f"{op}() was called from inside this adapter's sink or policy, where it would wait for itself; "
                "call it after that call has returned.",
                "bad_request",
            )
        other_loop = self._other_loop()
        if other_loop is not None:
            raise OpenCodeError(other_loop, "bad_request")
        bridge = await self._start()
        return await self._request(bridge, {"op": op, **fields})

    async def _turn(self, trace_id: Optional[str], fields: dict) -> dict:
        """Runs the turn request ``fields`` (prompt, command, summarize) as prompt() says."""
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
        other_loop = self._other_loop()
        if other_loop is not None:
            return await self._end(turn, "bad_request", other_loop)
        # From here a cancel() ends this turn: registered before the first await, so a cancel() made
        # right after the task running this prompt() was made (in the same tick) finds it.
        self._asked[turn] = None
        try:
            return await self._run(turn, fields)
        finally:
            if turn.bridge is None and not turn.result.done():
                # Given up before it was sent (the task was cancelled): nothing will end it.
                self._asked.pop(turn, None)

    async def _run(self, turn: _Turn, fields: dict) -> dict:
        prompt_id = f"p{next(self._ids)}"
        request: dict = {"id": prompt_id, **fields, "trace_id": turn.trace_id}
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
        if turn.cancelled:
            return await self._end(turn, "aborted", "The turn was cancelled before it started.")
        bridge.turns[prompt_id] = turn
        turn.bridge, turn.prompt_id = bridge, prompt_id
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
        """Cancels the running turn, if any, and returns once it has ended.

        The running turn is the first prompt() not yet ended, whatever stage it is in: also one
        whose task was made just before this call and has not started yet (``task =
        asyncio.ensure_future(adapter.prompt(...)); await adapter.cancel()``)."""
        other_loop = self._other_loop()
        if other_loop is not None:
            raise OpenCodeError(other_loop, "bad_request")
        # Lets prompt() tasks made before this call run up to their registration (tasks start in
        # the order they were made, and this one goes on after them).
        await asyncio.sleep(0)
        turn = next(iter(self._asked), None)
        if turn is None:
            return
        turn.cancelled = True
        if turn.bridge is not None:
            # Sent already: the bridge cancels it, whether it runs or waits its turn there.
            turn.bridge.send_nowait({"op": "cancel", "id": turn.prompt_id})
        if _inside_host_call(self):
            # The turn ends on lines the reader reads once this sink (or policy) call returns.
            return
        await asyncio.wait([turn.result])

    async def close(self) -> None:
        """Ends every turn (with a ``closed`` error) and the bridge process; further prompts end in an error.

        Called on another event loop than the one the adapter was used on, it closes the adapter
        on that loop if it still runs (in another thread), and otherwise (a loop that has ended, as
        each ``asyncio.run()`` does) tells the bridge to end its turns and exit, without waiting."""
        self._closed = True
        owner = self._loop
        if owner is not None and owner is not asyncio.get_running_loop():
            await self._close_from_another_loop(owner)
            return
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._shut_down())
        await asyncio.shield(self._closing)

    def _other_loop(self) -> Optional[str]:
        """Binds the adapter to the running loop on first use; on another loop, the error to give."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        if self._loop is loop:
            return None
        return (
            "This OpenCodeAdapter was first used on another event loop, and its bridge, tasks and futures belong to "
            "that one (each asyncio.run() starts a new loop). Make one adapter per event loop, inside the loop that "
            "uses it, and close it there."
        )

    async def _close_from_another_loop(self, owner: asyncio.AbstractEventLoop) -> None:
        if self._closing is not None and self._closing.done():
            return
        if owner.is_running() and not owner.is_closed():
            try:
                done = asyncio.run_coroutine_threadsafe(self.close(), owner)
            except RuntimeError:
                pass  # the owner loop closed meanwhile
            else:
                await asyncio.wrap_future(done)
                return
        # The owner loop no longer runs, so nothing of it can be awaited: ask the bridge to end its
        # turns and exit by writing to its standard input directly (after a newline that ends
        # whatever line a write cut short).
        bridge, self._bridge = self._bridge, None
        if bridge is None or bridge.proc.stdin is None:
            return
        try:
            pipe = bridge.proc.stdin.transport.get_extra_info("pipe")
            os.write(pipe.fileno(), b"\n" + _CLOSE_LINE)
        except (AttributeError, OSError, ValueError):
            pass  # the bridge is gone already

    async def _shut_down(self) -> None:
        if self._starting is not None:
            await asyncio.wait([self._starting])
        bridge, self._bridge = self._bridge, None
        if bridge is None:
            return
        proc = bridge.proc
        # `close` ends every turn now and then the bridge, whatever the bridge does with turns at the
        # end of its input; closing standard input then lets it exit.
        if proc.stdin is not None and not proc.stdin.is_closing():
            bridge.send_nowait(_CLOSE_REQUEST)
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
        command = list(self._cfg.bridge_command or find_bridge()) + _bridge_args(self._cfg, self._session_id)
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
                # A line without a code is a request the bridge refused (invalid): the host's bad request.
                bridge.requests.pop(key).set_exception(OpenCodeError(str(message["error"]), message.get("code") or "bad_request"))
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
        self._asked.pop(turn, None)
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


def _turn_options(**options: Any) -> dict:
    """The turn options given (not None), as the bridge's request fields."""
    return {name: value for name, value in options.items() if value is not None}


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


def _main() -> int:
    """``python -m opencode_turns``: where the bridge is found (or what to do), and this module's version."""
    print(f"opencode_turns {__version__} ({__file__})")
    try:
        command = find_bridge()
    except OpenCodeError as error:
        print(error)
        return 1
    print(f"bridge: {shlex.join(command)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
