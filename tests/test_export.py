"""The offline export without a browser: maths, the charts' config, solutions, the index and
links, and `make html` on a folder with a broken chapter (tiny notebooks in tmp; the browser
suite exports and opens the real chapters)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest
from transformer_course import export
from transformer_course.export.site import nav_for, parse_args

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
LIB = Path(export.__file__).resolve().parents[2]
v4 = nbformat.v4


def test_display_and_inline_maths_become_mathml():
    text = "A score $q_i \\cdot k_j$ and\n$$\\text{softmax}(x)_j =\n \\frac{e^{x_j}}{\\sum_m e^{x_m}}$$\nend"
    out = export.math_to_mathml(text)
    assert "$" not in out
    assert out.count("<math") == 2
    assert 'display="block"' in out and 'display="inline"' in out and "<mfrac>" in out


def test_text_without_maths_is_untouched():
    text = "No maths here: costs 5 dollars, `x_i` in code."
    assert export.math_to_mathml(text) == text


def test_plotly_is_inlined_as_a_global():
    script = export.plotly_inline()
    assert len(script) > 1_000_000 and script.rstrip().endswith("})();")
    assert "window.Plotly = module.exports" in script


def test_chart_config_offers_nothing_to_the_cloud_and_keeps_the_tools():
    config = export.PLOTLY_CONFIG
    assert config["showSendToCloud"] is False and config["displaylogo"] is False
    assert "sendChartToCloud" in config["modeBarButtonsToRemove"]
    kept = {"toImage", "zoom2d", "pan2d", "resetScale2d", "autoScale2d", "zoomIn2d", "zoomOut2d"}
    assert not kept & set(config["modeBarButtonsToRemove"])
    page = export.chart_html(go.Figure(go.Bar(y=[1, 2])))
    assert '"showSendToCloud": false' in page and '"displaylogo": false' in page
    assert "plotlyServerURL" not in page and "cdn" not in page.lower()


def test_a_chart_takes_its_box_width_and_keeps_its_height():
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]), layout=dict(width=1130, height=454))
    for figure in (fig, fig.to_plotly_json()):
        page = export.chart_html(figure)
        assert 'style="height:454px; width:100%;"' in page
        assert '"width":1130' not in page.replace(" ", "") and '"autosize":true' in page.replace(" ", "")
    assert fig.layout.width == 1130  # the figure itself is left alone


def notebook(title: str, *cells) -> nbformat.NotebookNode:
    return v4.new_notebook(cells=[v4.new_markdown_cell(f"# {title}\n\nSome prose."), *cells])


def solution_cell(source: str):
    cell = v4.new_code_cell(source)
    cell.metadata["tags"] = ["solution"]
    return cell


def test_hide_solutions_replaces_only_tagged_cells():
    nb = notebook("01 · A", v4.new_code_cell("x = 1"), solution_cell("y = 2"), v4.new_code_cell("x"))
    assert export.hide_solutions(nb) == 1
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "markdown", "code"]
    assert "hidden" in nb.cells[2].source and nb.cells[2].metadata["tags"] == ["solution-hidden"]
    assert "y = 2" not in str(nb)


def test_the_course_chapters_in_order_with_their_titles():
    chapters = export.find_chapters(CHAPTERS)
    assert [c.path.stem[:2] for c in chapters] == [f"{i:02d}" for i in range(len(chapters))]
    assert len(chapters) >= 9
    for chapter in chapters:
        assert re.fullmatch(r"\d\d · \S.*", chapter.title), chapter.title
    first, second, last = (
        nav_for(chapters[0], chapters),
        nav_for(chapters[1], chapters),
        nav_for(chapters[-1], chapters),
    )
    assert first["prev"] is None and first["next"] == {"href": chapters[1].page, "title": chapters[1].title}
    assert second["prev"]["href"] == chapters[0].page and second["index"] == "index.html"
    assert last["next"] is None


def run_export(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(LIB), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "transformer_course.export", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def broken_course(tmp_path_factory):
    """Three chapters: one fine (with a worked solution), one whose cell raises, one whose
    kernel dies; exported by the command, as `make html` does."""
    root = tmp_path_factory.mktemp("course")
    chapters, out = root / "chapters", root / "html"
    chapters.mkdir()
    meant = v4.new_code_cell("raise KeyError('an error the chapter means to show')")
    meant.metadata["tags"] = ["raises-exception"]
    fine = notebook(
        "01 · Fine", v4.new_code_cell("x = 6 * 7\nx"), meant, solution_cell("answer = 42  # SECRET-SOLUTION")
    )
    broken = notebook(
        "02 · Broken",
        v4.new_code_cell("raise ValueError('d_k must be positive')"),
        v4.new_code_cell("print('still ran')"),
    )
    dies = notebook(
        "03 · Dies", v4.new_code_cell("import os\nos._exit(1)"), v4.new_code_cell("print('never')")
    )
    for name, nb in [("01_fine", fine), ("02_broken", broken), ("03_dies", dies)]:
        nbformat.write(nb, chapters / f"{name}.ipynb")
    return chapters, out, run_export(str(chapters), str(out))


def test_every_chapter_is_exported_and_the_command_fails_at_the_end(broken_course):
    _, out, run = broken_course
    assert run.returncode == 1, run.stdout + run.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "01_fine.html",
        "02_broken.html",
        "03_dies.html",
        "index.html",
    ]
    report = run.stderr[run.stderr.index("failure(s)") :]
    assert "02_broken.ipynb  cell 2 (In [1]): ValueError: d_k must be positive" in report
    # The dying cell is named even when the kernel dies before it sends back its count.
    assert re.search(r"03_dies\.ipynb  cell 2 \(In \[[1 ]\]\): DeadKernelError", report), report
    assert "01_fine" not in report  # its error is tagged raises-exception: meant


def test_one_job_at_a_time_exports_the_same_pages_and_the_same_failures(broken_course, tmp_path, capsys):
    chapters, out, together = broken_course  # the default: as many at once as there are cores, ≤ 4
    alone = run_export(str(chapters), str(tmp_path), "--jobs", "1")
    assert alone.returncode == 1
    # (a cell whose kernel dies may or may not get its count back: "In [1]" or "In [ ]")
    failures = lambda run: [re.sub(r"In \[[1 ]\]", "In [?]", ln) for ln in run.stderr.splitlines()  # noqa: E731
                            if ".ipynb  cell" in ln]  # fmt: skip
    assert failures(alone) == failures(together) and len(failures(alone)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out.iterdir())
    for bad in ("0", "-2", "two"):
        with pytest.raises(SystemExit):
            parse_args(["chapters", "out", "--jobs", bad])
        said = capsys.readouterr().err
        assert f"argument --jobs: expected a whole number of at least 1, got '{bad}'" in said
    assert parse_args(["--jobs", "3"]).jobs == 3 and parse_args([]).jobs >= 1


def test_a_failing_cell_shows_its_error_and_the_next_cells_still_run(broken_course):
    _, out, _ = broken_course
    page = (out / "02_broken.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.stderr" in page and "d_k must be positive" in page
    assert "still ran" in page
    assert "DeadKernelError" in (out / "03_dies.html").read_text(encoding="utf-8")


def test_solutions_are_left_out_by_default(broken_course):
    _, out, _ = broken_course
    page = (out / "01_fine.html").read_text(encoding="utf-8")
    assert "SECRET-SOLUTION" not in page and "42" in page  # the other cell's output is there
    assert "celltag_solution-hidden" in page


def test_index_and_neighbour_links(broken_course):
    _, out, _ = broken_course
    index = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', index)
    assert links == [
        ("01_fine.html", "01 · Fine"),
        ("02_broken.html", "02 · Broken"),
        ("03_dies.html", "03 · Dies"),
    ]
    middle = (out / "02_broken.html").read_text(encoding="utf-8")
    assert (
        middle.count('href="01_fine.html"') == 2 and middle.count('href="03_dies.html"') == 2
    )  # top, bottom
    assert middle.count('href="index.html"') == 2
    assert "<title>02 · Broken</title>" in middle
    first = (out / "01_fine.html").read_text(encoding="utf-8")
    assert 'class="tc-prev"' not in first and 'class="tc-next"' in first


def test_solutions_option_includes_them_folded():
    assert parse_args(["chapters", "out", "--solutions"]).solutions and not parse_args([]).solutions
    nb = notebook("01 · Fine", v4.new_code_cell("x = 1"), solution_cell("answer = 42  # SECRET-SOLUTION"))
    page = export.to_html(nb, "01 · Fine")
    folded = re.search(r"<details class=\"tc-solution\">(.*?)</details>", page, re.DOTALL)
    assert folded and "SECRET-SOLUTION" in folded.group(1)
    assert "SECRET-SOLUTION" not in page.replace(folded.group(0), "")


def test_a_solutions_output_is_folded_with_its_code():
    """Only the code was folded: what a worked solution printed (an answer, say) showed below
    the fold."""
    cell = solution_cell("print(answer)  # SECRET-SOLUTION")
    cell.outputs = [v4.new_output("stream", name="stdout", text="SECRET-OUTPUT 42\n")]
    page = export.to_html(notebook("01 · Fine", v4.new_code_cell("x = 1"), cell), "01 · Fine")
    folded = re.search(r"<details class=\"tc-solution\">(.*?)</details>", page, re.DOTALL)
    assert folded and "SECRET-SOLUTION" in folded.group(1) and "SECRET-OUTPUT 42" in folded.group(1)
    assert "SECRET-OUTPUT" not in page.replace(folded.group(0), "")


def test_index_lists_every_chapter_and_links_those_exported(tmp_path):
    chapters = export.find_chapters(CHAPTERS)
    (tmp_path / chapters[1].page).write_text("<html></html>")
    index = export.write_index(chapters, tmp_path, solutions=False).read_text(encoding="utf-8")
    assert re.findall(r'<a href="([^"]+)">', index) == [chapters[1].page]
    assert index.count("(not exported)") == len(chapters) - 1
    assert index.index(chapters[0].title) < index.index(chapters[1].title) < index.index(chapters[-1].title)


def test_a_worker_that_died_is_reported_as_that_chapters_failure(capsys):
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from transformer_course.export.site import Chapter, _collect

    died = Future()
    died.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
    [failure] = _collect(Chapter(Path("chapters/09_gpt.ipynb"), "09 · GPT"), died)
    assert (failure.chapter, failure.where) == ("09_gpt.ipynb", "export")
    assert "worker process died" in failure.error and "NOT EXPORTED" in capsys.readouterr().err


def test_the_kernel_starts_under_the_lock_it_is_given_and_the_cells_run_after(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    events = []

    class Recorder:  # what --jobs's workers share: held while a kernel starts
        def __enter__(self):
            events.append("lock taken")

        def __exit__(self, *exc):
            events.append("lock released")

    steps = (("start_new_kernel", "kernel started"), ("start_new_kernel_client", "kernel answered"))
    for name, event in steps:
        original = getattr(NotebookClient, name)
        monkeypatch.setattr(NotebookClient, name, lambda self, *a, _f=original, _e=event, **k: (
            _f(self, *a, **k), events.append(_e))[0])  # fmt: skip
    path = tmp_path / "01_cells.ipynb"
    nbformat.write(notebook("01 · Cells", v4.new_code_cell("print('ran')")), path)
    ran, failures = export.execute(path, starting=Recorder())
    assert events == ["lock taken", "kernel started", "kernel answered", "lock released"]
    assert not failures and ran.cells[1].outputs[0]["text"] == "ran\n"


def test_a_kernel_that_never_answers_is_shut_down_and_reported(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    started = []

    def silent(self, *args, **kwargs):  # the kernel runs, but its answer never comes
        started.append(self.km)
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(NotebookClient, "start_new_kernel_client", silent)
    path = tmp_path / "01_cells.ipynb"
    nbformat.write(notebook("01 · Cells", v4.new_code_cell("print('ran')")), path)
    _, failures = export.execute(path)
    said = [(f.where, f.error) for f in failures]
    assert said == [("kernel", "RuntimeError: Kernel didn't respond in 60 seconds")]
    [km] = started
    assert not km.has_kernel  # shut down, not left running after the export


def test_an_explorer_snapshot_shows_what_the_learner_saw():
    """Its settings as labelled (the head "mean of heads" shows so, not as the list's value -1),
    and a view marked wide keeps a row of its own."""
    import torch
    from transformer_course import stories
    from transformer_course.export.snapshot import snapshot_html
    from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
    from transformer_course.tokenizer import course_vocab
    from transformer_course.widgets import ModelExplorer, StoryExplorer

    torch.manual_seed(0)
    vocab = course_vocab()
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=32, dropout=0.0, max_len=32,
    )  # fmt: skip
    explorer = ModelExplorer(Transformer(config), vocab)
    explorer.controls["head"].value = -1
    model_page = snapshot_html(explorer)
    assert "<b>head</b> mean of heads" in model_page and "<b>head</b> -1" not in model_page
    story_vocab = stories.story_vocab()
    gpt = DecoderOnlyTransformer(config.replace(vocab_size=len(story_vocab), max_len=64))
    story_page = snapshot_html(StoryExplorer(gpt, story_vocab, max_new_tokens=3))
    assert story_page.count("grid-column:1/-1") == 1  # the attention, a column per token


def test_a_page_carries_the_dark_theme_and_the_switch_between_the_two():
    """Light by default, JupyterLab Dark's stylesheet on when the system is dark (the browser
    suite switches it and clicks the button), the live view's dark colours for the charts."""
    import json

    from transformer_course.figures.themes import theme_swap

    nav = {"index": "index.html", "prev": None, "next": {"href": "02.html", "title": "02 · Next"}}
    page = export.to_html(notebook("01 · Fine", v4.new_code_cell("x = 1")), "01 · Fine", nav)
    assert 'data-jp-theme-light="true"' in page  # before the script runs: light
    dark = re.search(r'<style ([^>]*id="tc-theme-dark"[^>]*)>(.*?)</style>', page, re.DOTALL)
    assert dark and 'media="(prefers-color-scheme: dark)"' in dark.group(1)
    assert "--jp-layout-color0: #111;" in dark.group(2)
    assert page.index("tc-theme-dark") > page.index("--jp-layout-color0: white")  # dark overrides light
    assert page.count('class="tc-theme-toggle"') == 2  # top and bottom bars
    themes = re.search(r"var TC_THEMES = (.*);\n", page).group(1)
    assert "</" not in themes and json.loads(themes) == json.loads(json.dumps(theme_swap()))
    assert "function swapColours" in page and "Plotly.newPlot = function" in page


def test_the_index_follows_the_theme_the_chapters_use(tmp_path):
    index = export.write_index(export.find_chapters(CHAPTERS), tmp_path, solutions=False).read_text()
    assert ':root[data-tc-theme="dark"]' in index and 'getItem("tc-export-theme")' in index
    script = (LIB / "transformer_course" / "static" / "export_theme.js").read_text()
    assert 'KEY = "tc-export-theme"' in script  # the same key


def test_a_snapshot_says_on_and_off_for_a_checkbox():
    """A checkbox's value reads as the switch the learner saw, not as Python's True/False: alone,
    and in an explorer's settings line (chapter 08's loss curve printed "log scale False")."""
    from types import SimpleNamespace

    import ipywidgets as w
    from transformer_course.export.snapshot import _explorer_html, snapshot_html

    box = snapshot_html(w.Checkbox(value=False, description="log scale"))
    assert "<b>log scale</b> off" in box and "False" not in box
    explorer = SimpleNamespace(
        controls={"log": w.Checkbox(value=True, description="log scale"), "mean": w.IntSlider(value=20)},
        views={},
        message=w.HTML(""),
    )
    settings = _explorer_html(explorer).split("Explorer, as last shown:")[1].split("</div>")[0]
    assert "<b>log scale</b> on" in settings and "True" not in settings
    assert "20" in settings  # numbers as they are
