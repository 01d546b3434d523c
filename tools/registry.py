"""Tool discovery, contract checks and guarded execution.

Plugins are found through the entry-point group ``cardioagent.tools``. An entry point may load either a
``Tool`` subclass or a ``register_tools(register)`` function that calls ``register(ToolClass)`` once per
tool (the pattern of simonw/llm's hooks). Built-in tools are registered the same way, from this package's
own ``pyproject.toml``. A plugin that fails to import, breaks the contract or lacks its weights is reported
and disabled; it never stops the others from loading.
"""
from __future__ import annotations

import concurrent.futures as cf
import keyword
import re
import time
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from cardioagent.tools.contract import Tool, ToolContext, ToolResult, ToolSpec
from cardioagent.tools.errors import InputError, ToolError

ENTRY_POINT_GROUP = "cardioagent.tools"
MODALITIES = {"ecg", "ppg", "mixed", "ecg_image", "text"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


class PluginProblem(BaseModel):
    plugin: str
    tool: str | None = None
    problem: str


def contract_problems(tool_cls: Any) -> list[str]:
    """Everything wrong with a would-be tool class, as sentences; empty when it follows the contract."""
    if not (isinstance(tool_cls, type) and issubclass(tool_cls, Tool)):
        return [f"{tool_cls!r} is not a subclass of cardioagent.tools.contract.Tool"]
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
    input_model = getattr(tool_cls, "input_model", None)
    output_model = getattr(tool_cls, "output_model", None)
    if not (isinstance(input_model, type) and issubclass(input_model, BaseModel)):
        problems.append("input_model must be a pydantic BaseModel subclass")
    if not (isinstance(output_model, type) and issubclass(output_model, ToolResult)):
        problems.append("output_model must be a subclass of cardioagent.tools.contract.ToolResult")
    if not problems:
        try:
            input_model.model_json_schema()
            output_model.model_json_schema()
        except Exception as exc:  # a schema pydantic cannot express is a contract breach, not a crash
            problems.append(f"schemas cannot be generated: {exc}")
    for pattern in getattr(tool_cls, "keywords", ()):
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            problems.append(f"keyword {pattern!r} is not a valid regular expression: {exc}")
    if not all(isinstance(e, str) for e in getattr(tool_cls, "examples", ())):
        problems.append("examples must be strings")
    for attr in ("default_for", "prerequisite_for"):
        extra = set(getattr(tool_cls, attr, ())) - modalities
        if extra:
            problems.append(f"{attr} names modalities the tool does not accept: {sorted(extra)}")
    timeout = getattr(tool_cls, "timeout_s", None)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        problems.append("timeout_s must be a positive number of seconds")
    return problems


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._plugin_of: dict[str, str] = {}
        self._unavailable: dict[str, str] = {}
        self.problems: list[PluginProblem] = []

    # -- registration -------------------------------------------------------------------------------
    def register(self, tool_cls: type[Tool], plugin: str = "direct") -> bool:
        problems = contract_problems(tool_cls)
        name = getattr(tool_cls, "name", None)
        if not problems and name in self._tools:
            problems = [f"tool name {name!r} is already registered by plugin {self._plugin_of[name]!r}"]
        if problems:
            for p in problems:
                self.problems.append(PluginProblem(plugin=plugin, tool=str(name), problem=p))
            return False
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

    def discover(self) -> "ToolRegistry":
        # The project's own entry points load first, so a plugin cannot take a built-in tool's name.
        own = lambda e: not e.value.startswith("cardioagent.")  # noqa: E731
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
                    self.problems.append(PluginProblem(plugin=ep.name, problem=f"register_tools failed: {exc!r}"))
            else:
                self.problems.append(
                    PluginProblem(plugin=ep.name, problem="entry point must load a Tool class or a register_tools function")
                )
        return self

    # -- lookup ---------------------------------------------------------------------------------------
    def names(self, *, available_only: bool = True) -> list[str]:
        return [n for n in self._tools if not (available_only and n in self._unavailable)]

    def get(self, name: str) -> Tool:
        if name not in self._tools:
            raise ToolError(name, f"no such tool; known tools: {', '.join(sorted(self._tools))}")
        if name in self._unavailable:
            raise ToolError(name, f"unavailable here: {self._unavailable[name]}")
        return self._tools[name]

    def tools_for(self, modality: str) -> list[Tool]:
        return [self._tools[n] for n in self.names() if modality in self._tools[n].modalities]

    def spec(self, name: str) -> ToolSpec:
        tool = self._tools[name]
        return ToolSpec(
            name=name,
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
        """Validate ``args``, run the tool under its timeout and check what it returns.

        Input errors (the user's recording is too short, ...) propagate as they are: retrying cannot fix
        them. Timeouts and unexpected exceptions become ``ToolError``; retryable ones are retried.
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
                    raise ToolError(name, f"returned {type(result).__name__}, not {tool.output_model.__name__}")
                return result
            except InputError:
                raise
            except ToolError as exc:
                if exc.retryable and attempt <= retries:
                    continue
                raise
            except Exception as exc:
                raise ToolError(name, f"{type(exc).__name__}: {exc}") from exc


def _check_modality(tool: Tool, parsed: BaseModel, ctx: ToolContext) -> None:
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
            rec.name, f"tool {tool.name!r} does not accept {modality} recordings",
            f"{', '.join(tool.modalities)} recordings for this tool",
        )


def _call_with_timeout(tool: Tool, parsed: BaseModel, ctx: ToolContext) -> ToolResult:
    started = time.monotonic()
    # A thread per call: Python threads cannot be killed, so a hung tool must not hold a pooled worker
    # that later calls would queue behind. The hung thread finishes in the background; its result is dropped.
    executor = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tool-{tool.name}")
    future = executor.submit(tool.run, parsed, ctx)
    try:
        return future.result(timeout=tool.timeout_s)
    except cf.TimeoutError:
        raise ToolError(
            tool.name, f"timed out after {time.monotonic() - started:.1f} s (limit {tool.timeout_s:g} s)", retryable=True
        ) from None
    finally:
        executor.shutdown(wait=False)


def _short_validation(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())


_DEFAULT: ToolRegistry | None = None


def default_registry(refresh: bool = False) -> ToolRegistry:
    """The process-wide registry of every installed plugin (discovered once)."""
    global _DEFAULT
    if _DEFAULT is None or refresh:
        _DEFAULT = ToolRegistry().discover()
    return _DEFAULT
