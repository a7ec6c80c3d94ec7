"""guidekit — an assessment workbook for Taiwan's 政府數位服務指引.

The public API in one place::

    import guidekit as gk
    fw = gk.load_framework()                      # the guideline as data
    responses = gk.read_responses("answers/")     # validated canonical answers
    scores = gk.score(responses)                  # item → principle → dimension → overall
"""

from __future__ import annotations

from guidekit.answers import Responses
from guidekit.framework import Framework, load_framework
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.problems import DataError, FrameworkError, GuidekitError, Problem, ResponsesError
from guidekit.scoring import Scores, score
from guidekit.version import __version__

__all__ = [
    "DataError",
    "Framework",
    "FrameworkError",
    "GuidekitError",
    "Problem",
    "Responses",
    "ResponsesError",
    "Scores",
    "__version__",
    "load_framework",
    "read_responses",
    "score",
    "validate_responses",
]
