"""Who may fetch which file: Gradio serves ``/gradio_api/file=<path>`` for every file in its cache to anyone
logged in who has the URL, so with ``CARDIOAGENT_AUTH`` one user could open another's upload, figure or
exported report from its URL (a shared link, a browser history, a proxy log).

``FileGrants`` records, per owner (the logged-in user, ``local`` without a login), the paths in Gradio's
cache the app handed to that owner: uploads as Gradio answers ``/upload`` (read from the response), figures
and exports when the app publishes them. ``OwnFilesOnly``, an ASGI middleware in front of Gradio's routes,
answers 404 to a file request inside Gradio's cache or the app's work folder unless the requesting owner
holds a grant for that exact file.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from gradio.processing_utils import save_file_to_cache
from gradio.utils import get_upload_folder

from cardioagent.ui.auth import owner_of

_FILE_ROUTE = re.compile(r"/gradio_api/file(?:=|/)(?P<path>.+)$")
_UPLOAD_ROUTE = re.compile(r"/gradio_api/upload/?$")


def _real(path: str | Path) -> str:
    return os.path.realpath(os.path.abspath(str(path)))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class FileGrants:
    def __init__(self) -> None:
        self._owners: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def grant(self, path: str | Path, owner: str) -> None:
        with self._lock:
            self._owners.setdefault(_real(path), set()).add(owner)

    def allowed(self, path: str | Path, owner: str | None) -> bool:
        if owner is None:
            return False
        with self._lock:
            return owner in self._owners.get(_real(path), ())

    def serve(self, path: str | Path, owner: str) -> None:
        """Grant ``owner`` the copy of ``path`` that Gradio will serve: Gradio's own cache function names it
        (by content), and calling it here puts the copy in place before Gradio looks for it."""
        self.grant(save_file_to_cache(path, get_upload_folder()), owner)


class OwnFilesOnly:
    """ASGI middleware: file URLs inside the guarded folders are served only to the owner they were granted
    to; answers to ``/upload`` grant the uploaded files to the uploader."""

    def __init__(self, app, grants: FileGrants, guarded: Callable[[], Iterable[str | Path]]) -> None:
        self.app = app
        self.grants = grants
        self.guarded = guarded

    async def _owner(self, scope) -> str | None:
        """The owner the request speaks for: the logged-in user, ``local`` when the app has no login, None
        for a visitor who has not logged in to an app that asks for it."""
        from starlette.requests import Request

        gradio_app = scope.get("app")
        dependency = getattr(gradio_app, "auth_dependency", None)
        if dependency is None and getattr(gradio_app, "auth", None) is None:
            return owner_of(None)
        if dependency is not None:
            user = dependency(Request(scope))
            user = await user if inspect.isawaitable(user) else user
        else:
            cookies, cookie_id = Request(scope).cookies, getattr(gradio_app, "cookie_id", "")
            token = cookies.get(f"access-token-{cookie_id}") or cookies.get(
                f"access-token-unsecure-{cookie_id}"
            )
            user = gradio_app.tokens.get(token)
        return owner_of(user) if user else None

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        path, method = scope.get("path", ""), scope.get("method", "")
        match = _FILE_ROUTE.search(path)
        if match and method in ("GET", "HEAD"):
            target = _real(match.group("path"))
            guarded = any(_inside(target, _real(folder)) for folder in self.guarded())
            if guarded and not self.grants.allowed(target, await self._owner(scope)):
                return await _not_found(send)
            return await self.app(scope, receive, send)
        if method == "POST" and _UPLOAD_ROUTE.search(path):
            return await self._upload(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _upload(self, scope, receive, send):
        owner = await self._owner(scope)
        status, body = 0, bytearray()

        async def watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200:
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    try:
                        paths = json.loads(bytes(body))
                    except ValueError:
                        paths = []
                    for p in paths if isinstance(paths, list) else []:
                        if isinstance(p, str) and owner is not None:
                            self.grants.grant(p, owner)
            await send(message)

        return await self.app(scope, receive, watch)


async def _not_found(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"File not found."})
