"""The rendered site: the whole course builds into static HTML with its committed
outputs, pages link to each other, and a broken link or a missing image fails the
build."""

import base64
import io
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from gantutor.course.notebook import repository_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course_site as site  # noqa: E402

import notebooks as nbtool  # noqa: E402

NOTEBOOKS = site.course_notebooks(ROOT / "notebooks")


def png_output() -> nbformat.NotebookNode:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, format="PNG")
    return nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode(),
                              "text/plain": "<Figure>"})


def small_course(folder: Path, second_md: str = "") -> Path:
    """Two lessons in ``folder`` (inside a repository folder holding a package file);
    the first links to the second, to a heading and to that file and shows a figure
    output; ``second_md`` is appended to the second lesson."""
    folder.mkdir(parents=True)
    (folder.parent / "gantutor").mkdir()
    (folder.parent / "gantutor" / "check.py").write_text("# checks\n")
    first = nbtool.write_notebook(folder / "01_first.ipynb", "First lesson",
                                  "We begin here.", [
        ("md", "## Setting up\n\nNext: [the second lesson](02_second.ipynb#Details), "
               "the code in [check.py](../gantutor/check.py), "
               "and [back up](#Setting-up)."),
        ("code", "plot()")])
    nb = nbformat.read(first, as_version=4)
    nb.cells[-1].outputs = [png_output()]
    nbformat.write(nb, first)
    nbtool.write_notebook(folder / "02_second.ipynb", "Second lesson",
                          "We go on.", [("md", "## Details\n\nText." + second_md)])
    return folder


def pages(out: Path) -> dict:
    return {p.name: BeautifulSoup(p.read_text(), "html.parser")
            for p in out.glob("*.html")}


def test_small_course_builds_with_index_navigation_and_rewritten_links(tmp_path):
    course = small_course(tmp_path / "repo" / "notebooks")
    out = tmp_path / "site"
    lessons = site.build_site(course, out, repo_root=tmp_path / "repo")
    assert [lesson["title"] for lesson in lessons] == ["First lesson", "Second lesson"]
    soups = pages(out)
    assert set(soups) == {"index.html", "01_first.html", "02_second.html"}
    index_links = [a["href"] for a in soups["index.html"].select("ol.lessons a")]
    assert index_links == ["01_first.html", "02_second.html"]
    assert "We begin here." in soups["index.html"].get_text()

    first = soups["01_first.html"]
    hrefs = [a["href"] for a in first.find_all("a", href=True)]
    assert "02_second.html#Details" in hrefs  # a notebook link becomes a page link
    assert f"{repository_url()}/blob/main/gantutor/check.py" in hrefs
    assert not any(h.endswith(".ipynb") for h in hrefs if "://" not in h)
    nav = first.select("nav.course-nav")
    assert len(nav) == 2  # top and bottom
    assert [a["href"] for a in nav[0].find_all("a")] == ["index.html", "02_second.html"]
    second_nav = soups["02_second.html"].select_one("nav.course-nav")
    assert [a["href"] for a in second_nav.find_all("a")] == ["01_first.html",
                                                            "index.html"]
    # the committed figure output is embedded in the page
    assert any(img["src"].startswith("data:image/png;base64,")
               for img in first.find_all("img"))
    assert site.check_site(out) == []


def test_mentions_of_other_notebooks_become_links(tmp_path):
    course = small_course(tmp_path / "repo" / "notebooks", second_md=(
        "\n\nAs notebook 01 showed, and notebook 07 will show (not in this course), "
        "see `notebook 01` and notebook 02 (this one)."))
    site.build_site(course, tmp_path / "site", repo_root=tmp_path / "repo")
    prose = pages(tmp_path / "site")["02_second.html"].select(".jp-MarkdownOutput")
    links = [(a.get_text(), a["href"]) for cell in prose for a in cell.find_all("a")
             if a.get_text().startswith("notebook")]
    assert links == [("notebook 01", "01_first.html")]  # not 07, not code, not itself
    text = " ".join(cell.get_text() for cell in prose)
    assert "As notebook 01 showed, and notebook 07 will show" in text


@pytest.mark.parametrize("markdown, problem", [
    ("\n\nSee [lesson 3](03_missing.ipynb).", "no such notebook in the course"),
    ("\n\nSee [the first](01_first.ipynb#No-such-heading).",
     "has no heading or anchor 'No-such-heading'"),
    ("\n\nSee [here](#Nowhere).", "has no heading or anchor 'Nowhere'"),
    ("\n\nThe code: [losses](../gantutor/nothere.py).", "no such file"),
    ("\n\n![a figure](figures/missing.png)", "missing image 'figures/missing.png'"),
    ("\n\n![remote](https://example.org/x.png)", "would need the internet"),
])
def test_broken_links_and_missing_images_fail_the_build(tmp_path, markdown, problem):
    course = small_course(tmp_path / "repo" / "notebooks", second_md=markdown)
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("the previous site")
    with pytest.raises(site.SiteError) as err:
        site.build_site(course, out, repo_root=tmp_path / "repo")
    assert len(err.value.problems) == 1, err.value.problems
    assert err.value.problems[0].startswith("02_second")
    assert problem in err.value.problems[0]
    # a failed build leaves the previous site alone and no half-built folder behind
    assert (out / "index.html").read_text() == "the previous site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "site"]


def test_an_image_next_to_the_notebook_is_embedded(tmp_path):
    course = small_course(tmp_path / "repo" / "notebooks",
                          second_md="\n\n![diagram](diagram.png)")
    Image.new("RGB", (3, 3)).save(course / "diagram.png")
    site.build_site(course, tmp_path / "site", repo_root=tmp_path / "repo")
    imgs = pages(tmp_path / "site")["02_second.html"].find_all("img", alt="diagram")
    assert len(imgs) == 1 and imgs[0]["src"].startswith("data:image/png;base64,")


@pytest.mark.skipif(not NOTEBOOKS, reason="no course notebooks in notebooks/ yet")
def test_the_course_site_builds_from_the_committed_notebooks(tmp_path):
    out = tmp_path / "site"
    lessons = site.build_site(ROOT / "notebooks", out)  # raises on any broken link
    assert [lesson["page"] for lesson in lessons] == [
        p.stem + ".html" for p in NOTEBOOKS]
    soups = pages(out)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        figures = sum("image/png" in o.get("data", {}) for c in nb.cells
                      if c.cell_type == "code" for o in c.outputs)
        soup = soups[path.stem + ".html"]
        embedded = [i for i in soup.find_all("img")
                    if i["src"].startswith("data:image/png")]
        assert len(embedded) >= figures, f"{path.name}: figures missing from its page"
        assert soup.select_one("nav.course-nav a[href='index.html']") is not None
        widgets = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                      for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert len(soup.select("p.widget-note")) == widgets
