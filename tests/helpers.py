"""Test data made the way agency staff make it (and the way attackers would)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from guidekit.framework import Framework

#: A note that must show as text in every report.
HOSTILE_NOTE = '<script>alert("x")</script> & <b>粗體</b> "引號"'

#: (agency code, agency name): markup and quotes, a slash, ids that need safe file names,
#: ids differing only by case, names that look alike after clean-up.
HOSTILE_AGENCIES: Sequence[tuple[str, str]] = (
    ("0001", '研考會 <i>"測試"</i>'),
    ("A/B 02", "交通部/觀光署"),
    ("ab03", "臺北市政府"),
    ("AB03", "台北市政府"),
    ("..", "普通機關"),
)

#: Answers as people write them, per form: met, partly, not met, not applicable.
ANSWERS = {
    "service": ("符合", "部分符合", "不符合", "不適用"),
    "plan": ("已規劃", "部分規劃", "未規劃", "不適用"),
}


def write_round(
    folder: Path,
    fw: Framework,
    agencies: Sequence[tuple[str, str]] = HOSTILE_AGENCIES,
    instrument: str = "service",
    encoding: str = "utf-8-sig",
) -> Path:
    """One answer file with two respondents per agency; returns its path."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["評估回合", "機關代碼", "機關名稱", "填答者", "題號", "答案", "說明"])
    for a, (agency_id, name) in enumerate(agencies):
        for r, respondent in enumerate(("甲", "乙")):
            for n, item in enumerate(fw.items[instrument]):
                answer = ANSWERS[instrument][(n + a + r * (n % 3)) % 4]
                note = (
                    HOSTILE_NOTE if n % 5 == 0 else ("理由：不涉及" if answer == "不適用" else "")
                )
                writer.writerow(["2026", agency_id, name, respondent, item.id, answer, note])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "answers.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def probe_notebook(path: Path, body: str) -> Path:
    """A report-like notebook at ``path``: a tagged parameters cell (the batch's
    parameters, blank) and one code cell ``body``; returns ``path``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'agency_id = ""\nround_id = ""\nlang = "zh-TW"\ncache = ""\ntoday = ""'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
