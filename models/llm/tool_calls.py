"""Pure functions that find tool calls in text a local model generated.

Small local models write tool calls in several dialects; all of these are recognised:

- ``<tool_call>{"name": "f", "arguments": {...}}</tool_call>`` (Hermes/Qwen style), or a JSON list inside
  the tags (SmolLM2's function-calling format), an unterminated final tag (generation hit the token limit);
- a fenced block: ```` ```json {...} ``` ```` or ```` ``` [...] ``` ````;
- the whole reply being a bare JSON object or list of calls;
- a bare JSON call object inside prose, but only when its ``name`` is one of the bound tools (anything else
  would mistake ordinary JSON in an answer for a call).

A call is ``{"name": str, "arguments": {...}}``; ``parameters``/``args`` are accepted for ``arguments``,
arguments may be a JSON string (OpenAI wire format), and ``{"function": {...}}`` wrappers are unwrapped.
Python-literal dicts (single quotes, True/None) are read with ``ast.literal_eval`` as a fallback.

Nothing here raises on bad model output: text that looks like a call but cannot be read becomes an
``InvalidToolCall`` with the reason, so the agent can show it or ask the model again.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call

if TYPE_CHECKING:  # an annotation only: nothing imports typing_extensions at run time
    from typing_extensions import TypeIs

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON|tool_call|tool_code)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


@dataclass
class ParsedReply:
    """A model reply split into the prose left for the user and the calls it asked for."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def load_json_lenient(text: str) -> Any:
    """JSON, else JSON without trailing commas, else a Python literal; raises ValueError if none fits."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError as err:
        first_error = err
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text))
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise ValueError(f"not valid JSON ({first_error})") from None


def _unwrap(obj: Any) -> Any:
    """{"type": "function", "function": {...}} and {"function": {...}} -> the inner call."""
    if isinstance(obj, dict) and "name" not in obj and isinstance(obj.get("function"), dict):
        return obj["function"]
    return obj


def _arguments_of(call: dict[str, Any]) -> tuple[Any, bool]:
    for key in ("arguments", "parameters", "args", "input"):
        if key in call:
            return call[key], True
    return {}, False


def looks_like_call(obj: Any) -> bool:
    obj = _unwrap(obj)
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("name"), str)
        and (_arguments_of(obj)[1] or set(obj) == {"name"})
    )


def _is_invalid(call: ToolCall | InvalidToolCall) -> TypeIs[InvalidToolCall]:
    """Whether ``call_from_object`` refused the call (only an InvalidToolCall carries an ``error``)."""
    return "error" in call


def call_from_object(obj: Any, tool_names: Iterable[str] | None = None) -> ToolCall | InvalidToolCall:
    """One decoded JSON value -> a ToolCall, or an InvalidToolCall saying what is wrong with it."""
    known = set(tool_names) if tool_names is not None else None
    obj = _unwrap(obj)
    if not isinstance(obj, dict):
        return invalid_tool_call(
            name=None, args=_dump(obj), id=new_call_id(), error="a tool call must be an object"
        )
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return invalid_tool_call(
            name=None, args=_dump(obj), id=new_call_id(), error="tool call has no 'name'"
        )
    name = name.strip()
    args, _ = _arguments_of(obj)
    if isinstance(args, str):
        try:
            args = load_json_lenient(args) if args.strip() else {}
        except ValueError as err:
            return invalid_tool_call(name=name, args=args, id=new_call_id(), error=f"arguments: {err}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return invalid_tool_call(
            name=name, args=_dump(args), id=new_call_id(), error="arguments must be a JSON object"
        )
    if known is not None and name not in known:
        return invalid_tool_call(
            name=name,
            args=_dump(args),
            id=new_call_id(),
            error=f"unknown tool {name!r}; available: {', '.join(sorted(known)) or 'none'}",
        )
    call_id = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else new_call_id()
    return tool_call(name=name, args=args, id=call_id)


def calls_from_json_text(
    text: str, tool_names: Iterable[str] | None = None
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Text meant to be one call or a list of calls (the inside of a tag or fence)."""
    try:
        value = load_json_lenient(text)
    except ValueError as err:
        unreadable = invalid_tool_call(
            name=_guess_name(text), args=text.strip(), id=new_call_id(), error=str(err)
        )
        return [], [unreadable]
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        value = value["tool_calls"]
    items = value if isinstance(value, list) else [value]
    good: list[ToolCall] = []
    bad: list[InvalidToolCall] = []
    for item in items:
        parsed = call_from_object(item, tool_names)
        if _is_invalid(parsed):
            bad.append(parsed)
        else:
            good.append(parsed)
    return good, bad


def parse_tool_calls(text: str, tool_names: Iterable[str] | None = None) -> ParsedReply:
    """Split a generated reply into content and tool calls. ``tool_names``: the bound tools, if known."""
    names = list(tool_names) if tool_names is not None else None
    good: list[ToolCall] = []
    bad: list[InvalidToolCall] = []

    if "<tool_call>" in text:
        for match in _TAGGED.finditer(text):
            inner = _strip_fence(match.group(1))
            if inner.strip():
                g, b = calls_from_json_text(inner, names)
                good += g
                bad += b
        return ParsedReply(_clean(_TAGGED.sub("", text)), good, bad)

    fenced_any = False
    remainder = text
    for match in _FENCED.finditer(text):
        inner = match.group(1)
        try:
            value = load_json_lenient(inner)
        except ValueError:
            if _guess_name(inner) and (names is None or _guess_name(inner) in names):
                bad.append(
                    invalid_tool_call(
                        name=_guess_name(inner),
                        args=inner.strip(),
                        id=new_call_id(),
                        error="fenced tool call is not valid JSON",
                    )
                )
                remainder = remainder.replace(match.group(0), "", 1)
                fenced_any = True
            continue
        if _is_call_value(value):
            g, b = calls_from_json_text(inner, names)
            good += g
            bad += b
            remainder = remainder.replace(match.group(0), "", 1)
            fenced_any = True
    if fenced_any:
        return ParsedReply(_clean(remainder), good, bad)

    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            value = load_json_lenient(stripped)
        except ValueError:
            value = None
        if value is not None and _is_call_value(value):
            g, b = calls_from_json_text(stripped, names)
            return ParsedReply("", g, b)

    if names:
        return _calls_inside_prose(text, set(names))
    return ParsedReply(text.strip())


def _calls_inside_prose(text: str, names: set[str]) -> ParsedReply:
    decoder = json.JSONDecoder()
    good: list[ToolCall] = []
    kept: list[str] = []
    pos = 0
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if looks_like_call(value) and _unwrap(value)["name"].strip() in names:
            parsed = call_from_object(value, names)
            if not _is_invalid(parsed):
                good.append(parsed)
                kept.append(text[pos:i])
                pos = end
        i = text.find("{", end)
    kept.append(text[pos:])
    return ParsedReply(_clean("".join(kept)), good)


def _is_call_value(value: Any) -> bool:
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        return True
    if isinstance(value, list):
        return bool(value) and all(looks_like_call(v) for v in value)
    return looks_like_call(value)


def _strip_fence(text: str) -> str:
    match = _FENCED.search(text)
    return match.group(1) if match else text


_NAME_GUESS = re.compile(r"""["']name["']\s*:\s*["']([^"']+)["']""")


def _guess_name(text: str) -> str | None:
    match = _NAME_GUESS.search(text)
    return match.group(1).strip() if match else None


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _clean(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()
