"""A conversation as a report: Markdown with its figures (a .zip), or one self-contained HTML file.

Both are written from the transcript the chat shows, so the report holds the same tool steps, numbers,
figures and citations, and the not-a-medical-device notice.

Nothing in a report loads anything: message text has its images, links and HTML disarmed
(``cardioagent.agent.untrusted``), the HTML file embeds its figures as ``data:`` URIs, drops any other
``<img>``, and carries a Content-Security-Policy that forbids every remote load.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
import time
import zipfile
from pathlib import Path
from typing import Any

from cardioagent.agent import (
    NOT_A_MEDICAL_DEVICE,
    defang_markdown,
    drop_remote_images,
    inert_markdown,
    one_line,
)
from cardioagent.ui.knowledge_panel import unlink_citations

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _figure_path(content: Any) -> str | None:
    if isinstance(content, dict):
        if "path" in content:
            return str(content["path"])
        if isinstance(content.get("file"), dict):
            return str(content["file"].get("path"))
    return None


def _header(title: str, thread_id: str) -> list[str]:
    when = time.strftime("%Y-%m-%d %H:%M")
    thread = one_line(thread_id, 80).replace("`", "'")  # shown in a code span, where escapes do not work
    return [
        f"# {inert_markdown(title, max_chars=200) if title else 'cardioagent conversation'}",
        "",
        f"_Exported {when} from conversation `{thread}`._",
        "",
        f"> **{NOT_A_MEDICAL_DEVICE}**",
        "",
    ]


def to_markdown(
    messages: list[dict[str, Any]], *, title: str, thread_id: str, figure_name: dict[str, str] | None = None
) -> str:
    """The report as Markdown. ``figure_name`` maps a figure's path to the name it is linked by (its path
    inside the zip); without it the path itself is used."""
    lines = _header(title, thread_id)
    for m in messages:
        content, meta = m.get("content"), m.get("metadata") or {}
        fig = _figure_path(content)
        if fig and isinstance(content, dict):  # a figure path comes only from a dict content
            alt = inert_markdown(content.get("alt_text") or Path(fig).stem, max_chars=120)
            lines += [f"![{alt}]({(figure_name or {}).get(fig, fig)})", ""]
        elif meta.get("title"):
            took = f" ({meta['duration']:.2f} s)" if isinstance(meta.get("duration"), (int, float)) else ""
            lines.append(f"> **{defang_markdown(meta['title'])}**{took}")
            lines += [f"> {line}" if line else ">" for line in defang_markdown(content).splitlines()]
            lines.append("")
        elif m.get("role") == "user":
            lines += ["## You", "", defang_markdown(content), ""]
        else:
            lines += ["## cardioagent", "", defang_markdown(unlink_citations(str(content))), ""]
    return "\n".join(lines).rstrip() + "\n"


def export_markdown_zip(messages: list[dict[str, Any]], out_dir: Path, *, title: str, thread_id: str) -> Path:
    """``report.md`` plus ``figures/`` in one zip."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for m in messages:
        fig = _figure_path(m.get("content"))
        if fig and Path(fig).is_file() and fig not in names:
            names[fig] = f"figures/{len(names) + 1:02d}_{_UNSAFE_NAME.sub('_', Path(fig).name)}"
    report = to_markdown(messages, title=title, thread_id=thread_id, figure_name=names)
    target = out_dir / f"cardioagent-{thread_id}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.md", report)
        for src, name in names.items():
            zf.write(src, name)
    return target


def _data_uri(path: str) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    mime = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode()}"


def _md_to_html(text: str) -> str:
    try:
        from markdown_it import MarkdownIt

        # html=False: text from the conversation is never trusted as markup.
        return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    except ImportError:
        return f"<pre>{html.escape(text)}</pre>"


# The page fetches nothing: its figures are data: URIs and its style is inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
blockquote{border-left:4px solid #999;margin:0;padding:.2rem 1rem;background:#f6f6f6}
img{max-width:100%;border:1px solid #ddd}
.notice{background:#fff4d6;border:1px solid #e0b84c;padding:.5rem 1rem}
"""


def export_html(messages: list[dict[str, Any]], out_dir: Path, *, title: str, thread_id: str) -> Path:
    """One HTML file with the figures embedded, so it can be mailed or archived as it is."""
    out_dir.mkdir(parents=True, exist_ok=True)
    uris = {}
    for m in messages:
        fig = _figure_path(m.get("content"))
        if fig and fig not in uris:
            uris[fig] = _data_uri(fig) or fig
    md = to_markdown(messages, title=title, thread_id=thread_id, figure_name=uris)
    # markdown-it refuses data: URIs in links as unsafe; put the images in after rendering instead.
    placeholders = {f"cardioagent-figure-{i}": uri for i, uri in enumerate(uris.values())}
    for key, uri in placeholders.items():
        md = md.replace(f"]({uri})", f"]({key})")
    body = _md_to_html(md)
    for key, uri in placeholders.items():
        body = body.replace(f'src="{key}"', f'src="{uri}"')
    body = drop_remote_images(
        body
    )  # anything but the embedded figures (a stored transcript may predate this)
    body = body.replace(
        f"<blockquote>\n<p><strong>{html.escape(NOT_A_MEDICAL_DEVICE)}</strong>",
        f"<blockquote class='notice'>\n<p><strong>{html.escape(NOT_A_MEDICAL_DEVICE)}</strong>",
        1,
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        f"<meta name='referrer' content='no-referrer'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )
    target = out_dir / f"cardioagent-{thread_id}.html"
    target.write_text(page, encoding="utf-8")
    return target


def export_recording_report(assistant: Any, recording_id: str, out_dir: Path, *, kind: str) -> Path:
    """The PDF report (``kind='pdf'``) or FHIR R4 bundle (``kind='fhir'``) of one stored recording, by the
    analysis ``cardioagent report`` runs (``cardioagent.agent.reporting``)."""
    from cardioagent.agent import content_of_recording, fhir_bundle_json, write_pdf

    rec = assistant.recording(recording_id)
    content = content_of_recording(rec)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"cardioagent-{_UNSAFE_NAME.sub('_', rec.name)[:60] or 'recording'}-{recording_id[:8]}"
    if kind == "pdf":
        return write_pdf(content, out_dir / f"{stem}.pdf", rec)
    target = out_dir / f"{stem}.fhir.json"
    target.write_text(fhir_bundle_json(content, rec), encoding="utf-8")
    return target
