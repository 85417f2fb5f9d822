"""Build the course, with its committed outputs, as a static HTML site.

    python tools/course_site.py                  # -> build/site/index.html
    python tools/course_site.py --out public     # somewhere else

Each notebook in notebooks/ becomes one page (nbconvert's lab template, images
embedded in the page), with links to the previous and the next lesson and to the index
page. A link to another notebook points to its page, and so does a mention such as
"notebook 05" in the prose; a link to any other file of the repository points to that
file on GitHub (the address in pyproject.toml). Nothing is executed: the pages show the
outputs as committed.

The build fails, listing every problem, when a link points to a page, a file or a
heading that does not exist, or when an image is missing or would need the internet;
a failed build leaves the previous site in place.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantutor.course.notebook import BRANCH, repository_url  # noqa: E402
from gantutor.errors import GantutorError  # noqa: E402

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
# Images that may come from the internet: only the Colab badge (a link off-site anyway)
REMOTE_IMAGES = ("https://colab.research.google.com/assets/colab-badge.svg",)
EXTERNAL = ("http", "https", "mailto")

NAV_STYLE = """
nav.course-nav { display: flex; justify-content: space-between; gap: 1rem;
                 font-family: system-ui, sans-serif; padding: 0.6rem 1rem;
                 border-bottom: 1px solid #d0d7de; background: #f6f8fa; }
nav.course-nav.bottom { border-top: 1px solid #d0d7de; border-bottom: none; }
nav.course-nav a { text-decoration: none; }
p.widget-note { color: #57606a; font-size: 0.9em; font-style: italic; }
"""
INDEX_STYLE = NAV_STYLE + """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1f2328; }
ol.lessons li { margin: 0 0 1rem 0; }
ol.lessons .summary { color: #57606a; }
"""


class SiteError(GantutorError):
    """The site has broken links or missing images; ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"the site has {len(problems)} problem(s):\n  "
                         + "\n  ".join(problems))


# ------------------------------------------------------------------ pages


def course_notebooks(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob(NOTEBOOK_GLOB))


def page_name(notebook: Path | str) -> str:
    return Path(notebook).stem + ".html"


def title_and_summary(nb) -> tuple[str, str]:
    """The notebook's title (its first ``# `` heading) and the first paragraph of its
    introduction (markdown, after the title and the badge)."""
    source = nb.cells[0].source if nb.cells else ""
    title, summary = None, ""
    for block in re.split(r"\n\s*\n", source):
        block = block.strip()
        if title is None and block.startswith("# "):
            title = block[2:].splitlines()[0].strip()
        elif block and not block.startswith("[![") and not summary:
            summary = block
    return title or "(untitled)", summary


def export_html(path: Path) -> str:
    """One notebook as a self-contained page, outputs as committed, images embedded."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_filename(str(path),
                                     resources={"metadata": {"path": str(path.parent)}})
    return body


def rewrite_links(soup, notebook: Path, pages: set[str], repo_root: Path,
                  repo_url: str) -> list[str]:
    """Point links to notebooks at their pages and links to other repository files at
    GitHub; return a problem for each link that points nowhere (and mark it, so that
    :func:`check_site` does not report it twice)."""
    problems = []

    def broken(a, why):
        problems.append(f"{notebook.name}: link to {a['href']!r}{why}")
        a["data-broken"] = "reported"

    for a in soup.find_all("a", href=True):
        href = a["href"]
        parts = urlsplit(href)
        if parts.scheme or not parts.path or href.startswith("//"):
            continue  # external, or an anchor on this page (checked later)
        target = unquote(parts.path)
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if target.endswith(".ipynb") and "/" not in target:
            if page_name(target) not in pages:
                broken(a, ": no such notebook in the course")
                continue
            a["href"] = page_name(target) + fragment
            continue
        resolved = (notebook.parent / target).resolve()
        try:
            inside = resolved.relative_to(repo_root.resolve()).as_posix()
        except ValueError:
            broken(a, " leaves the repository")
            continue
        if not resolved.exists():
            broken(a, f": no such file ({inside})")
            continue
        kind = "tree" if resolved.is_dir() else "blob"
        a["href"] = f"{repo_url}/{kind}/{BRANCH}/{inside}{fragment}"
    return problems


MENTION = re.compile(r"\b([Nn]otebook) (\d\d)\b")


def link_mentions(soup, pages: set[str], own_page: str) -> int:
    """Turn "notebook 05" in the prose into a link to that lesson's page (when the
    course has it); returns how many links were made."""
    by_number = {page[:2]: page for page in pages}
    made = 0
    for prose in soup.select(".jp-MarkdownOutput"):
        for text in list(prose.find_all(string=MENTION)):
            if text.find_parent(["a", "code", "pre", "script", "style"]):
                continue
            pieces, last = [], 0
            for m in MENTION.finditer(text):
                page = by_number.get(m.group(2))
                if page is None or page == own_page:
                    continue
                pieces += [text[last:m.start()],
                           (f"{m.group(1)} {m.group(2)}", page)]
                last = m.end()
            if not pieces:
                continue
            pieces.append(text[last:])
            for piece in pieces:
                if isinstance(piece, tuple):
                    a = soup.new_tag("a", href=piece[1])
                    a.string = piece[0]
                    text.insert_before(a)
                    made += 1
                elif piece:
                    text.insert_before(piece)
            text.extract()
    return made


WIDGET_NOTE = ("An interactive widget: its controls respond when you run this "
               "notebook in Jupyter or Colab; here it shows its saved state, when "
               "the page can load the widget library.")


def note_widgets(soup) -> int:
    """Under every ipywidgets output, a line saying how to use it (a static page
    cannot run the Python behind the controls)."""
    views = soup.find_all("script", type="application/vnd.jupyter.widget-view+json")
    for view in views:
        note = soup.new_tag("p", attrs={"class": "widget-note"})
        note.string = WIDGET_NOTE
        view.parent.append(note)
    return len(views)


def nav_html(prev: tuple | None, nxt: tuple | None, where: str) -> str:
    def link(item, arrow_left):
        if item is None:
            return "<span></span>"
        name, title = item
        text = f"← {title}" if arrow_left else f"{title} →"
        return f'<a href="{html.escape(name)}">{html.escape(text)}</a>'

    return (f'<nav class="course-nav {where}">{link(prev, True)}'
            f'<a href="index.html">Contents</a>{link(nxt, False)}</nav>')


def render_pages(notebooks: list[Path], out: Path, repo_root: Path,
                 repo_url: str) -> tuple[list[dict], list[str]]:
    from bs4 import BeautifulSoup

    problems, lessons = [], []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        title, summary = title_and_summary(nb)
        lessons.append({"path": path, "page": page_name(path), "title": title,
                        "summary": summary})
    pages = {lesson["page"] for lesson in lessons}
    for i, lesson in enumerate(lessons):
        soup = BeautifulSoup(export_html(lesson["path"]), "html.parser")
        problems += rewrite_links(soup, lesson["path"], pages, repo_root, repo_url)
        link_mentions(soup, pages, lesson["page"])
        note_widgets(soup)
        prev = (lessons[i - 1]["page"], lessons[i - 1]["title"]) if i > 0 else None
        nxt = ((lessons[i + 1]["page"], lessons[i + 1]["title"])
               if i + 1 < len(lessons) else None)
        style = soup.new_tag("style")
        style.string = NAV_STYLE
        soup.head.append(style)
        soup.body.insert(0, BeautifulSoup(nav_html(prev, nxt, "top"), "html.parser"))
        soup.body.append(BeautifulSoup(nav_html(prev, nxt, "bottom"), "html.parser"))
        soup.title.string = f"{lesson['title']} · gantutor"
        (out / lesson["page"]).write_text(str(soup), encoding="utf-8")
    return lessons, problems


def index_html(lessons: list[dict], repo_url: str, readme: Path) -> str:
    import mistune

    heading, intro = "gantutor", ""
    if readme.exists():
        blocks = re.split(r"\n\s*\n", readme.read_text(encoding="utf-8"))
        heading = blocks[0].lstrip("# ").strip()
        intro = "\n\n".join(blocks[1:3])
    items = "\n".join(
        f'<li><a href="{html.escape(lesson["page"])}">{html.escape(lesson["title"])}'
        f'</a><div class="summary">{mistune.html(lesson["summary"])}</div></li>'
        for lesson in lessons)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)}</title><style>{INDEX_STYLE}</style>
<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"]], processEscapes: true}}}});
</script>
<script src="{html.escape(mathjax_url())}"></script></head>
<body><h1>{html.escape(heading)}</h1>
{mistune.html(intro)}
<h2>Lessons</h2>
<ol class="lessons">
{items}
</ol>
<p>Run them yourself: <a href="{html.escape(repo_url)}">{html.escape(repo_url)}</a>
(each lesson also opens in Google Colab from its badge).</p>
</body></html>
"""


def mathjax_url() -> str:
    """Where the lesson pages load MathJax from (nbconvert's default, a CDN)."""
    from nbconvert import HTMLExporter

    return HTMLExporter().mathjax_url


# ------------------------------------------------------------------ checks


def _targets(soup) -> set[str]:
    ids = {unquote(t["id"]) for t in soup.find_all(id=True)}
    return ids | {unquote(t["name"]) for t in soup.find_all("a", attrs={"name": True})}


def check_site(out: Path) -> list[str]:
    """Every link between pages and every anchor resolves; every image is present."""
    from bs4 import BeautifulSoup

    out = Path(out)
    soups = {p.name: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")
             for p in sorted(out.glob("*.html"))}
    anchors = {name: _targets(soup) for name, soup in soups.items()}
    problems = []
    for name, soup in soups.items():
        for a in soup.find_all("a", href=True):
            parts = urlsplit(a["href"])
            if parts.scheme in EXTERNAL or a.get("data-broken"):
                continue
            if parts.scheme:
                problems.append(f"{name}: link {a['href'][:60]!r}: unknown scheme")
                continue
            target = unquote(parts.path) or name
            if target not in soups:
                if not (out / target).is_file():
                    problems.append(f"{name}: broken link to {a['href']!r}")
                continue
            if parts.fragment and unquote(parts.fragment) not in anchors[target]:
                problems.append(f"{name}: link to {a['href']!r}: {target} has no "
                                f"heading or anchor {unquote(parts.fragment)!r}")
        for img in soup.find_all("img"):
            problems += _check_image(name, img.get("src", ""), out)
    return problems


def _check_image(page: str, src: str, out: Path) -> list[str]:
    if not src:
        return [f"{page}: an image without a source"]
    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        try:
            data = (base64.b64decode(payload, validate=True)
                    if header.endswith(";base64") else unquote(payload).encode())
        except binascii.Error:
            return [f"{page}: an embedded image is not valid base64"]
        return [] if data else [f"{page}: an embedded image is empty"]
    if urlsplit(src).scheme:
        if src in REMOTE_IMAGES:
            return []
        return [f"{page}: image {src[:80]!r} would need the internet; put the file in "
                "the repository and link it relatively (it is then embedded)"]
    if not (out / unquote(urlsplit(src).path)).is_file():
        return [f"{page}: missing image {src!r} (the file it names does not exist)"]
    return []


# ------------------------------------------------------------------ build


def build_site(notebooks_dir: Path = ROOT / "notebooks",
               out: Path = ROOT / "build" / "site",
               repo_root: Path = ROOT) -> list[dict]:
    """Render every notebook and the index into ``out``; raise :class:`SiteError`
    (leaving any previous ``out`` untouched) when a link or an image is broken."""
    notebooks = course_notebooks(notebooks_dir)
    if not notebooks:
        raise SiteError([f"no notebooks matching {NOTEBOOK_GLOB} in {notebooks_dir}"])
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        repo_url = repository_url()
        lessons, problems = render_pages(notebooks, tmp, repo_root, repo_url)
        (tmp / "index.html").write_text(
            index_html(lessons, repo_url, repo_root / "README.md"), encoding="utf-8")
        problems += check_site(tmp)
        if problems:
            raise SiteError(problems)
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lessons


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site",
                        help="folder for the site (default: build/site)")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        lessons = build_site(args.notebooks, args.out)
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in args.out.glob("*.html")) / 1e6
    print(f"site: {args.out / 'index.html'} ({len(lessons)} lessons, {size:.1f} MB) "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
