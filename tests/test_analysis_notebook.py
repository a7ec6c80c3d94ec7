"""notebooks/analysis.ipynb runs top to bottom under papermill, without errors or missing glyphs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from guidekit.paths import examples_dir, notebooks_dir

NOTEBOOK = notebooks_dir() / "analysis.ipynb"
GLYPH_WARNINGS = ("missing from font", "Glyph", "findfont")


def _texts(nb: dict) -> list[str]:
    out = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                out.append(str(output.get("text", "")))
            if output.get("output_type") == "error":
                out.append(f"{output.get('ename')}: {output.get('evalue')}")
            for kind in ("text/plain", "text/html"):
                value = output.get("data", {}).get(kind)
                if value:
                    out.append("".join(value) if isinstance(value, list) else str(value))
    return out


def _run(tmp_path: Path, **parameters: object) -> dict:
    out = tmp_path / "analysis-out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(NOTEBOOK.parent),
        extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
    )
    return json.loads(out.read_text(encoding="utf-8"))


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.slow
def test_notebook_runs_on_the_bundled_example(tmp_path: Path) -> None:
    nb = _run(tmp_path, sensitivity_draws=200)
    texts = "\n".join(_texts(nb))
    for warning in GLYPH_WARNINGS:
        assert warning not in texts
    images = [
        o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 9  # every section draws its chart
    assert "SV-P11-02" in texts and "題庫" in texts  # the version warning is shown
    assert "score_p05" in texts  # the chart's numbers are shown beside it
    # the actions section answers its two questions for the bundled example
    assert "未完成改善行動最多的原則是 P" in texts and "如期完成" in texts


@pytest.mark.slow
def test_notebook_runs_with_another_framework(tmp_path: Path) -> None:
    nb = _run(
        tmp_path,
        framework="egdi-2022",
        responses=str(examples_dir() / "egdi-2022" / "answers"),
        lang="en",
        sensitivity_draws=100,
    )
    texts = "\n".join(_texts(nb))
    for warning in GLYPH_WARNINGS:
        assert warning not in texts
    assert "Only one round" in texts
