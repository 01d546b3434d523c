"""Tool discovery, contract checks and guarded execution.

Plugins are found through the entry-point group ``cardioagent.tools``. An entry point may load either a
``Tool`` subclass or a ``register_tools(register)`` function that calls ``register(ToolClass)`` once per
tool (the pattern of simonw/llm's hooks). Built-in tools are registered the same way, from this package's
own ``pyproject.toml``. A plugin that fails to import, breaks the contract or lacks its weights is reported
and disabled; it never stops the others from loading.

``ToolRegistry.run`` enforces each tool's ``timeout_s`` for real: by default a call runs in a forked child
that is killed at the limit; tools that need this process's loaded state declare ``isolation = "thread"``
and are cancelled cooperatively (see "time limits" below). A timeout is never retried.
"""

from __future__ import annotations

import importlib
import keyword
import multiprocessing
import os
import pickle
import re
import signal
import sys
import threading
import time
import warnings
import weakref
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from cardioagent.tools.contract import ISOLATIONS, Tool, ToolContext, ToolResult, ToolSpec
from cardioagent.tools.errors import InputError, ToolError

ENTRY_POINT_GROUP = "cardioagent.tools"
MODALITIES = {"ecg", "ppg", "mixed", "ecg_image", "wearable", "text"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


class PluginProblem(BaseModel):
    plugin: str
    tool: str | None = None
    problem: str


def contract_problems(tool_cls: Any) -> list[str]:
    """Everything wrong with a would-be tool class, as sentences; empty when it follows the contract."""
    if not (isinstance(tool_cls, type) and issubclass(tool_cls, Tool)):
        return [f"{tool_cls!r} is not a subclass of cardioagent.tools.contract.Tool"]
    return _identity_problems(tool_cls) + _model_problems(tool_cls) + _option_problems(tool_cls)


def _identity_problems(tool_cls: type[Tool[Any]]) -> list[str]:
    """Name, description (what the planner reads) and modalities."""
    problems = []
    name = getattr(tool_cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name):
        problems.append(f"name {name!r} must be 3-64 characters of a-z, 0-9 and _, starting with a letter")
    description = getattr(tool_cls, "description", None)
    if not isinstance(description, str) or len(description.strip()) < 20:
        problems.append("description must be a sentence or more (the planner chooses tools by it)")
    modalities = set(getattr(tool_cls, "modalities", ()))
    if not modalities or not modalities <= MODALITIES:
        problems.append(f"modalities {sorted(modalities)} must be a non-empty subset of {sorted(MODALITIES)}")
    return problems


def _model_problems(tool_cls: type[Tool[Any]]) -> list[str]:
    """The input and output models, and that pydantic can write their schemas."""
    input_model = getattr(tool_cls, "input_model", None)
    output_model = getattr(tool_cls, "output_model", None)
    problems = []
    if not (isinstance(input_model, type) and issubclass(input_model, BaseModel)):
        problems.append("input_model must be a pydantic BaseModel subclass")
    if not (isinstance(output_model, type) and issubclass(output_model, ToolResult)):
        problems.append("output_model must be a subclass of cardioagent.tools.contract.ToolResult")
    if problems:
        return problems
    try:  # read through the class: the checks above made both models pydantic classes
        tool_cls.input_model.model_json_schema()
        tool_cls.output_model.model_json_schema()
    except Exception as exc:  # a schema pydantic cannot express is a contract breach, not a crash
        return [f"schemas cannot be generated: {exc}"]
    return []


def _option_problems(tool_cls: type[Tool[Any]]) -> list[str]:
    """Keywords, examples, the modalities it is a default or prerequisite for, time limit and isolation."""
    problems = []
    for pattern in getattr(tool_cls, "keywords", ()):
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            problems.append(f"keyword {pattern!r} is not a valid regular expression: {exc}")
    if not all(isinstance(e, str) for e in getattr(tool_cls, "examples", ())):
        problems.append("examples must be strings")
    modalities = set(getattr(tool_cls, "modalities", ()))
    for attr in ("default_for", "prerequisite_for"):
        extra = set(getattr(tool_cls, attr, ())) - modalities
        if extra:
            problems.append(f"{attr} names modalities the tool does not accept: {sorted(extra)}")
    timeout = getattr(tool_cls, "timeout_s", None)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        problems.append("timeout_s must be a positive number of seconds")
    if getattr(tool_cls, "isolation", "process") not in ISOLATIONS:
        problems.append(f"isolation must be one of {', '.join(ISOLATIONS)}")
    return problems


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        self._plugin_of: dict[str, str] = {}
        self._unavailable: dict[str, str] = {}
        self.problems: list[PluginProblem] = []

    # -- registration -------------------------------------------------------------------------------
    def register(self, tool_cls: type[Tool[Any]], plugin: str = "direct") -> bool:
        problems = contract_problems(tool_cls)
        name = getattr(tool_cls, "name", None)
        if not problems and name in self._tools:
            problems = [f"tool name {name!r} is already registered by plugin {self._plugin_of[name]!r}"]
        if problems:
            for p in problems:
                self.problems.append(PluginProblem(plugin=plugin, tool=str(name), problem=p))
            return False
        name = tool_cls.name  # a valid str: contract_problems checked it
        try:
            tool = tool_cls()
            reason = tool.unavailable_reason()
        except Exception as exc:
            self.problems.append(PluginProblem(plugin=plugin, tool=name, problem=f"could not start: {exc}"))
            return False
        self._tools[name] = tool
        self._plugin_of[name] = plugin
        if reason:
            self._unavailable[name] = reason
        return True

    def discover(self) -> ToolRegistry:
        # The project's own entry points load first, so a plugin cannot take a built-in tool's name.
        def own(e: EntryPoint) -> bool:
            return not e.value.startswith("cardioagent.")

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (own(e), e.name)):
            try:
                obj = ep.load()
            except Exception as exc:
                self.problems.append(PluginProblem(plugin=ep.name, problem=f"import failed: {exc!r}"))
                continue
            if isinstance(obj, type):
                self.register(obj, plugin=ep.name)
            elif callable(obj):
                try:
                    obj(lambda cls, _plugin=ep.name: self.register(cls, plugin=_plugin))
                except Exception as exc:
                    self.problems.append(
                        PluginProblem(plugin=ep.name, problem=f"register_tools failed: {exc!r}")
                    )
            else:
                self.problems.append(
                    PluginProblem(
                        plugin=ep.name,
                        problem="entry point must load a Tool class or a register_tools function",
                    )
                )
        return self

    # -- lookup ---------------------------------------------------------------------------------------
    def names(self, *, available_only: bool = True) -> list[str]:
        return [n for n in self._tools if not (available_only and n in self._unavailable)]

    def get(self, name: str) -> Tool[Any]:
        if name not in self._tools:
            raise ToolError(name, f"no such tool; known tools: {', '.join(sorted(self._tools))}")
        if name in self._unavailable:
            raise ToolError(name, f"unavailable here: {self._unavailable[name]}")
        return self._tools[name]

    def tools_for(self, modality: str) -> list[Tool[Any]]:
        return [self._tools[n] for n in self.names() if modality in self._tools[n].modalities]

    def spec(self, name: str) -> ToolSpec:
        tool = self._tools[name]
        return ToolSpec(
            name=name,
            title=tool.display_title(),
            description=tool.description,
            modalities=list(tool.modalities),
            input_schema=tool.input_model.model_json_schema(),
            output_schema=tool.output_model.model_json_schema(),
            plugin=self._plugin_of[name],
            available=name not in self._unavailable,
            unavailable_reason=self._unavailable.get(name),
        )

    def specs(self) -> list[ToolSpec]:
        return [self.spec(n) for n in sorted(self._tools)]

    # -- execution -------------------------------------------------------------------------------------
    def run(self, name: str, args: dict[str, Any], ctx: ToolContext, *, retries: int = 1) -> ToolResult:
        """Validate ``args``, run the tool under its time limit and check what it returns.

        Input errors (the user's recording is too short, ...) propagate as they are: retrying cannot fix
        them. A call that overruns ``timeout_s`` is stopped (its worker process killed, or, for a tool that
        runs in a thread, asked to stop) and raises ``ToolTimeout``, which is never retried: the same input
        would overrun again. Unexpected exceptions become ``ToolError``; retryable ones are retried.
        """
        tool = self.get(name)
        try:
            parsed = tool.input_model.model_validate(args)
        except ValidationError as exc:
            raise ToolError(name, f"invalid arguments: {_short_validation(exc)}") from None
        _check_modality(tool, parsed, ctx)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = _call_with_timeout(tool, parsed, ctx)
                if not isinstance(result, tool.output_model):
                    raise ToolError(
                        name, f"returned {type(result).__name__}, not {tool.output_model.__name__}"
                    )
                return result
            except InputError:
                raise
            except ToolError as exc:
                if exc.retryable and attempt <= retries and not isinstance(exc, ToolTimeout):
                    continue
                raise
            except Exception as exc:
                raise ToolError(name, f"{type(exc).__name__}: {exc}") from exc


class ToolTimeout(ToolError):
    """A call overran its tool's ``timeout_s`` and was stopped. Never retried."""

    def __init__(self, tool: str, seconds: float, limit: float, how: str) -> None:
        self.seconds = seconds
        self.limit = limit
        reason = f"timed out: stopped after {seconds:.1f} s (limit {limit:g} s; {how}); not retried"
        super().__init__(tool, reason, retryable=False)


def _check_modality(tool: Tool[Any], parsed: BaseModel, ctx: ToolContext) -> None:
    recording_id = getattr(parsed, "recording_id", None)
    if not recording_id:
        return
    try:
        rec = ctx.get_recording(recording_id)
    except InputError:
        raise
    except Exception:  # a lookup the context cannot answer is the tool's to handle
        return
    modality = rec.modality.value
    if modality not in tool.modalities:
        raise InputError(
            rec.name,
            f"tool {tool.name!r} does not accept {modality} recordings",
            f"{', '.join(tool.modalities)} recordings for this tool",
        )


# -- time limits -------------------------------------------------------------------------------------------
#
# ``isolation = "process"`` (the default): each call runs in a child forked for it. The child inherits the
# tool, its arguments and the context (nothing is pickled on the way in), runs ``tool.run`` and sends the
# result back through a pipe as plain data; at the time limit the child's process group is killed, so the
# work really stops. Where fork is unavailable (Windows, macOS), or with CARDIOAGENT_TOOL_ISOLATION=thread,
# such tools run like ``isolation = "thread"`` ones.
#
# What a child learns is lost when it exits, so two kinds of it are sent back with a result and kept here:
# the entries it added to the analysis code's caches (``_shared_caches``), and the modules it imported. The
# second matters most: the analysis code imports its heavy libraries lazily (``import neurokit2`` pulls in
# matplotlib: ~1.3 s of CPU), and a child that imports them for itself pays that on every call, ten times
# the call's own work on a PTB-XL record. The parent imports what the first child imported (once), and every
# later child inherits it, as a call in a thread would. Forks wait while the parent imports, so no child is
# forked holding a half-imported module.
#
# ``isolation = "thread"``: for tools that need what this process holds (a loaded vector store, model
# weights). The call runs in a daemon thread; at the time limit the registry stops waiting, sets the call's
# cancellation flag (a tool's loops may poll ``check_cancelled()``), and refuses new calls of that tool until
# the overrunning one has ended, so a stuck tool cannot pile up threads that each burn a core.

ISOLATION_ENV = "CARDIOAGENT_TOOL_ISOLATION"  # auto (default) | thread
MEMORY_ENV = "CARDIOAGENT_TOOL_MEMORY_MB"  # address space a process-isolated call may add; 0: no ceiling
DEFAULT_MEMORY_MB = 4096

_FORK_WARNING = r".*use of fork\(\) may lead to deadlocks in the child"
warnings.filterwarnings("ignore", message=_FORK_WARNING, category=DeprecationWarning)

_local = threading.local()
_import_lock = threading.Lock()  # forks and adopting a child's imports do not overlap
_unadoptable: set[str] = set()  # modules a child imported that do not import here
_overrunning: weakref.WeakKeyDictionary[Tool[Any], threading.Thread] = weakref.WeakKeyDictionary()
_overrunning_lock = threading.Lock()


def check_cancelled() -> None:
    """Raise ``ToolTimeout`` when the current call has been stopped by the registry.

    Tools with ``isolation = "thread"`` should call this between steps of long loops: a thread cannot be
    killed, so this is how such a call stops. In a process-isolated call it is a no-op (the process is
    killed instead).
    """
    state = getattr(_local, "call", None)
    if state is not None and state["cancel"].is_set():
        raise ToolTimeout(state["tool"], time.monotonic() - state["started"], state["limit"], "cancelled")


def _fork_context() -> multiprocessing.context.ForkContext | None:
    if os.environ.get(ISOLATION_ENV, "auto").strip().lower() == "thread":
        return None
    if not sys.platform.startswith("linux"):  # fork is unsafe with macOS system frameworks, absent on Windows
        return None
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


def isolation_of(tool: Tool[Any]) -> str:
    """How a call of ``tool`` runs here: "process" or "thread"."""
    wanted = getattr(tool, "isolation", "process")
    return "process" if wanted == "process" and _fork_context() is not None else "thread"


def _call_with_timeout(tool: Tool[Any], parsed: BaseModel, ctx: ToolContext) -> ToolResult:
    context = _fork_context() if getattr(tool, "isolation", "process") == "process" else None
    if context is not None:
        return _call_in_process(context, tool, parsed, ctx)
    return _call_in_thread(tool, parsed, ctx)


def _call_in_thread(tool: Tool[Any], parsed: BaseModel, ctx: ToolContext) -> ToolResult:
    with _overrunning_lock:
        previous = _overrunning.get(tool)
        if previous is not None and previous.is_alive():
            raise ToolError(
                tool.name, "an earlier call overran its time limit and is still stopping; try again shortly"
            )
        _overrunning.pop(tool, None)
    started = time.monotonic()
    cancel = threading.Event()
    box: dict[str, ToolResult] = {}
    failure: dict[str, BaseException] = {}

    def work() -> None:
        _local.call = {"cancel": cancel, "tool": tool.name, "started": started, "limit": tool.timeout_s}
        try:
            box["result"] = tool.run(parsed, ctx)
        except BaseException as exc:  # handed to the caller below
            failure["error"] = exc

    # A daemon thread: a call that never returns must not keep the interpreter from exiting.
    worker = threading.Thread(target=work, name=f"tool-{tool.name}", daemon=True)
    worker.start()
    worker.join(tool.timeout_s)
    if worker.is_alive():
        cancel.set()
        with _overrunning_lock:
            _overrunning[tool] = worker
        raise ToolTimeout(
            tool.name,
            time.monotonic() - started,
            tool.timeout_s,
            "runs in the app's own process: asked to stop",
        )
    if "error" in failure:
        raise failure["error"]
    return box["result"]


def _prefetched(ctx: ToolContext, parsed: BaseModel) -> ToolContext:
    """A context whose ``get_recording`` answers the call's own recording without touching the store: the
    child then needs no lock another thread of this process might have held when it was forked."""
    recording_id = getattr(parsed, "recording_id", None)
    if not recording_id:
        return ctx
    try:
        rec = ctx.get_recording(recording_id)
    except Exception:
        return ctx
    original = ctx.get_recording
    return ctx.model_copy(update={"get_recording": lambda rid: rec if rid == recording_id else original(rid)})


def _call_in_process(context: Any, tool: Tool[Any], parsed: BaseModel, ctx: ToolContext) -> ToolResult:
    ctx = _prefetched(ctx, parsed)
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(tool, parsed, ctx, send), name=f"tool-{tool.name}")
    started = time.monotonic()
    try:
        with _import_lock:
            child.start()
    except OSError as exc:
        receive.close()
        send.close()
        raise ToolError(tool.name, f"could not start a worker process: {exc}", retryable=True) from None
    send.close()
    payload, overran = None, None
    try:
        if receive.poll(tool.timeout_s):
            try:
                payload = receive.recv_bytes()
            except (EOFError, OSError):
                payload = None
        else:
            overran = time.monotonic() - started
    finally:
        code = _kill(child)
        receive.close()
    if overran is not None:
        raise ToolTimeout(tool.name, overran, tool.timeout_s, "its worker process was killed")
    if payload is None:
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        if code == -signal.SIGKILL:
            how += " (out of memory?)"
        raise ToolError(tool.name, f"its worker process ended without a result ({how})")
    return _result_from(tool, pickle.loads(payload))


def _kill(child: Any) -> int | None:
    """Stop the child (and its process group) if it still runs, reap it; its exit code."""
    if child.exitcode is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the child leads its own group: helpers it started go too
        except OSError:
            pass
        try:
            child.kill()
        except (OSError, ValueError, AttributeError):
            pass
    child.join(timeout=5)
    code: int | None = child.exitcode
    try:
        child.close()
    except ValueError:
        pass
    return code


def _child_main(tool: Tool[Any], parsed: BaseModel, ctx: ToolContext, conn: Any) -> None:
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    _die_with_parent()
    _limit_memory()
    modules_before = set(sys.modules)
    caches = _shared_caches()
    before = {name: set(cache._d) for name, cache in caches.items()}
    message: tuple[Any, ...]  # a tagged tuple: its first item says what the rest holds (see _result_from)
    try:
        result = tool.run(parsed, ctx)
        if not isinstance(result, tool.output_model):
            message = ("wrong_type", type(result).__name__)
        else:
            imported = [m for m in list(sys.modules) if m not in modules_before]  # in import order
            message = ("ok", _portable(result), _new_entries(_shared_caches(), before), imported)
    except InputError as exc:
        message = ("input", type(exc).__module__, type(exc).__qualname__, str(exc), _portable_attrs(exc))
    except ToolError as exc:
        message = ("tool", exc.reason, bool(exc.retryable))
    except MemoryError:
        message = ("memory", _memory_limit_mb())
    except BaseException as exc:  # reported to the parent as the tool's own failure
        message = ("error", type(exc).__name__, str(exc))
    try:
        data = pickle.dumps(message)
    except Exception as exc:
        data = pickle.dumps(("error", type(exc).__name__, f"the result could not be sent back: {exc}"))
    conn.send_bytes(data)
    conn.close()


def _portable(result: ToolResult) -> tuple[str, Any]:
    """The result as plain Python data (pickled by value), or as JSON when it holds something unpicklable."""
    data = result.model_dump(mode="python")
    try:
        pickle.dumps(data)
        return ("python", data)
    except Exception:
        return ("json", result.model_dump_json())


def _portable_attrs(exc: BaseException) -> dict[str, Any]:
    out = {}
    for key, value in vars(exc).items():
        try:
            pickle.dumps(value)
        except Exception:
            continue
        out[key] = value
    return out


def _shared_caches() -> dict[str, Any]:
    """The analysis code's module-level ``LruCache``s (peaks, signal quality), by "module:attribute".

    A process-isolated call fills them in its child; the entries it added are sent back with the result and
    merged here, so the next tool of the turn reuses the beats the previous one detected, as it would in a
    thread. Keys are the caches' own, so what they are keyed on is unchanged."""
    common = sys.modules.get("cardioagent.tools.analysis.common")
    lru = getattr(common, "LruCache", None)
    if lru is None:
        return {}
    out = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("cardioagent.tools.analysis") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, lru) and isinstance(getattr(value, "_d", None), dict):
                out[f"{name}:{attr}"] = value
    return out


def _new_entries(caches: dict[str, Any], before: dict[str, set[Any]]) -> dict[str, list[tuple[Any, Any]]]:
    out: dict[str, list[tuple[Any, Any]]] = {}
    for name, cache in caches.items():
        entries = [(k, v) for k, v in list(cache._d.items()) if k not in before.get(name, ())]
        try:
            pickle.dumps(entries)
        except Exception:
            continue
        if entries:
            out[name] = entries
    return out


def _merge_entries(entries: dict[str, list[tuple[Any, Any]]]) -> None:
    if not entries:
        return
    for name, items in entries.items():
        module_name, _, attr = name.partition(":")
        try:  # the child may have imported the analysis code first
            cache = getattr(importlib.import_module(module_name), attr, None)
        except Exception:
            continue
        if cache is None or not hasattr(cache, "get"):
            continue
        for key, value in items:
            try:
                cache.get(key, lambda v=value: v)
            except Exception:
                break


def _adopt_imports(names: list[str]) -> None:
    """Import here the modules a child imported (in its order), so the next child inherits them. A module
    that does not import here (one a library put into ``sys.modules`` by hand) is skipped: the child that
    needs it imports it again, as before."""
    missing = [m for m in names if m not in sys.modules and m not in _unadoptable]
    if not missing:
        return
    with _import_lock:
        for name in missing:
            if name in sys.modules:  # imported by an earlier name of the list
                continue
            try:
                importlib.import_module(name)
            except Exception:  # the child imports it itself, as it did before; not tried here again
                _unadoptable.add(name)


def _result_from(tool: Tool[Any], message: tuple[Any, ...]) -> ToolResult:
    kind = message[0]
    if kind == "ok":
        how, data = message[1]
        _merge_entries(message[2] if len(message) > 2 else {})
        _adopt_imports(message[3] if len(message) > 3 else [])
        model = tool.output_model
        return model.model_validate_json(data) if how == "json" else model.model_validate(data)
    if kind == "wrong_type":
        raise ToolError(tool.name, f"returned {message[1]}, not {tool.output_model.__name__}")
    if kind == "input":
        _, module, qualname, text, attrs = message
        cls = _find_class(module, qualname)
        err = InputError.__new__(cls if cls is not None and issubclass(cls, InputError) else InputError)
        err.args = (text,)
        err.__dict__.update(attrs)
        raise err
    if kind == "tool":
        raise ToolError(tool.name, message[1], retryable=message[2])
    if kind == "memory":
        limit = message[1]
        raise ToolError(
            tool.name,
            "ran out of memory"
            + (f" (a call may use {limit} MB more than the app itself; {MEMORY_ENV})" if limit else ""),
        )
    raise ToolError(tool.name, f"{message[1]}: {message[2]}")


def _find_class(module: str, qualname: str) -> type | None:
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else None


def _memory_limit_mb() -> int:
    try:
        return max(0, int(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_MB)))
    except ValueError:
        return DEFAULT_MEMORY_MB


def _limit_memory() -> None:
    """Cap the child's address space at what it inherited plus CARDIOAGENT_TOOL_MEMORY_MB (Linux)."""
    extra = _memory_limit_mb()
    if not extra:
        return
    try:
        import resource

        with open("/proc/self/statm") as f:
            inherited = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = inherited + extra * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass


def _die_with_parent() -> None:
    """Linux: the child is killed if the app dies first, so no orphan keeps computing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    except Exception:
        pass


def _short_validation(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())


_DEFAULT: ToolRegistry | None = None


def default_registry(refresh: bool = False) -> ToolRegistry:
    """The process-wide registry of every installed plugin (discovered once)."""
    global _DEFAULT
    if _DEFAULT is None or refresh:
        _DEFAULT = ToolRegistry().discover()
    return _DEFAULT
