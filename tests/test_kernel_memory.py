"""The hub-sizing script measures the kernel that ran the chapter, and reports a failing one."""

import json

import nbformat
from transformer_course.kernel_memory import MIB, main


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_memory_follows_what_the_chapter_holds_and_a_failure_is_reported(tmp_path, capsys):
    write_notebook(tmp_path / "00_small.ipynb", "x = 1")
    # 200 MiB with a byte written in every page, so all of it is resident; then the chapter fails.
    fill = "held = bytearray(200 * 2**20)\nheld[::4096] = b'x' * len(held[::4096])"
    write_notebook(tmp_path / "01_large.ipynb", fill, "raise RuntimeError('an unfinished exercise')")
    out = tmp_path / "memory.json"
    assert main([str(tmp_path), "--json", str(out)]) == 1  # a chapter failed
    small, large = json.loads(out.read_text())
    assert small["error"] is None and "RuntimeError" in large["error"]
    assert large["rss"] - small["rss"] > 180 * MIB
    assert large["uss"] - small["uss"] > 180 * MIB
    for r in (small, large):
        assert r["rss"] >= r["uss"] > 0 and r["rss"] > r["rss_at_start"] * 0.5
        assert r["peak"] is None or r["peak"] >= r["rss"]
    table = capsys.readouterr().out
    assert "| 00_small |" in table and "01_large (failed: RuntimeError" in table


def test_a_folder_without_chapters_is_refused(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "folder must hold chapters" in capsys.readouterr().err
