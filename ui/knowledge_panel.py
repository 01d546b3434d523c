"""The side panel that shows the knowledge entries an answer cites, and the links that lead to them.

Each cited entry is an element with id ``kb-<entry_id>``; in the answer, "knowledge entry `x`" becomes a
link to ``#kb-x`` (a small script in the page scrolls the panel to it instead of following the link).
The corpus is read from its Markdown files (no vector store needed to show an entry).
"""

from __future__ import annotations

import html
import re

from cardioagent.agent import Citation, knowledge_entry

PANEL_EMPTY = (
    "<div class='kb-empty'>The knowledge entries an answer cites appear here, with their criteria and "
    "sources.</div>"
)
_ENTRY_REF = re.compile(r"knowledge entry `([a-z0-9_]+)`")
SECTIONS_SHOWN = ("Definition", "Criteria", "Normal ranges", "Significance")

# Clicking a citation link scrolls the panel to the entry and highlights it, rather than letting the
# browser treat "#kb-..." as a navigation (Gradio opens Markdown links in a new tab).
CITATION_LINK_JS = """
<script>
document.addEventListener('click', function (ev) {
  const a = ev.target.closest && ev.target.closest('a[href^="#kb-"]');
  if (!a) return;
  ev.preventDefault(); ev.stopPropagation();
  const el = document.getElementById(a.getAttribute('href').slice(1));
  if (el) { el.open = true; el.scrollIntoView({behavior: 'smooth', block: 'start'});
            el.classList.add('kb-flash'); setTimeout(() => el.classList.remove('kb-flash'), 1500); }
}, true);
</script>
"""


def link_citations(text: str) -> str:
    """Turn the answer's "knowledge entry `id`" mentions into links to the panel."""
    return _ENTRY_REF.sub(lambda m: f"[knowledge entry {m.group(1)}](#kb-{m.group(1)})", text)


def unlink_citations(text: str) -> str:
    """The inverse of ``link_citations`` (to compare what was shown with the agent's own text)."""
    return re.sub(r"\[knowledge entry ([a-z0-9_]+)\]\(#kb-\1\)", r"knowledge entry `\1`", text)


def _paragraphs(markdown: str) -> str:
    """Entry sections are hard-wrapped Markdown: join lines into paragraphs and bullets, escape the text."""
    blocks: list[tuple[str, list[str]]] = []  # ("p" | "li", lines)
    for line in markdown.splitlines():
        s = line.strip()
        if not s:
            blocks.append(("", []))
        elif re.match(r"^[-*+]\s+", s):
            blocks.append(("li", [re.sub(r"^[-*+]\s+", "", s)]))
        elif blocks and blocks[-1][0] in ("p", "li"):
            blocks[-1][1].append(s)
        else:
            blocks.append(("p", [s]))
    out, items = [], []
    for kind, lines in blocks + [("", [])]:
        text = html.escape(" ".join(lines))
        if kind == "li":
            items.append(f"<li>{text}</li>")
            continue
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if kind == "p":
            out.append(f"<p>{text}</p>")
    return "".join(out)


def render_entry(c: Citation) -> str:
    entry = knowledge_entry(c.entry_id)  # None: the panel shows the citation's own fields
    head = f"<summary><b>[{c.n}] {html.escape(c.name)}</b>"
    if c.source_kind == "user":
        return (
            f"<details class='kb-entry' id='kb-{html.escape(c.entry_id)}' open>"
            f"{head} (your document)</summary></details>"
        )
    if entry is None:
        body = "".join(f"<li>{html.escape(s)}</li>" for s in c.sources)
        return (
            f"<details class='kb-entry' id='kb-{html.escape(c.entry_id)}' open>{head} "
            f"<code>{html.escape(c.entry_id)}</code></summary><ul>{body}</ul></details>"
        )
    parts = [
        (
            f"<details class='kb-entry' id='kb-{html.escape(entry.id)}' open>{head} "
            f"<code>{html.escape(entry.id)}</code> · {html.escape(entry.category)} · urgency: "
            f"{html.escape(entry.urgency)}</summary>"
        )
    ]
    for title in SECTIONS_SHOWN:
        body = entry.section(title)
        if body:
            parts.append(f"<h4>{html.escape(title)}</h4>{_paragraphs(body)}")
    parts.append(
        "<h4>Sources</h4><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in entry.sources) + "</ul>"
    )
    parts.append("</details>")
    return "".join(parts)


def render_panel(citations: list[Citation] | list[dict]) -> str:
    cites = [c if isinstance(c, Citation) else Citation.model_validate(c) for c in citations]
    if not cites:
        return PANEL_EMPTY
    return "<div class='kb-panel'>" + "".join(render_entry(c) for c in cites) + "</div>"
