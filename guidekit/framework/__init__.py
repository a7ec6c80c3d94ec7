"""The guideline as data: principles, 構面 (dimensions), self-assessment forms (自評表)
with their check items (檢核項目) and answer scales, and supporting measures (配套措施).

Boundary: reads ``data/frameworks/<id>/`` and nothing else; imports only the shared
leaves (problems, i18n, text, files, paths).

* :mod:`~guidekit.framework.model` — the model (:class:`Framework`, :class:`Principle`,
  :class:`Item`, :class:`Scale`, :class:`Measure` …)
* :mod:`~guidekit.framework.loader` — :func:`load_framework`: reading and validating a folder
* :mod:`~guidekit.framework.lens` — lens frameworks that read one framework's answers
  through another standard's structure
* :mod:`~guidekit.framework.history` — which check items changed between question-bank versions
"""

from __future__ import annotations

from guidekit.framework.history import (
    HISTORY_COLUMNS,
    ItemChange,
    Revision,
    changed_items,
    history_frame,
    load_history,
)
from guidekit.framework.lens import (
    CROSSWALK_COLUMNS,
    Lens,
    LensMeta,
    LensSpec,
    load_lens,
)
from guidekit.framework.loader import (
    FOLDER_KINDS,
    default_framework_path,
    json_schemas,
    load_framework,
)
from guidekit.framework.model import (
    STATUSES,
    TIDY_KINDS,
    WEIGHT_MAX,
    WEIGHT_MIN,
    Band,
    Condition,
    Dimension,
    Framework,
    FrameworkIdentity,
    FrameworkMeta,
    Instrument,
    Item,
    LevelNames,
    Measure,
    Principle,
    Scale,
    ScaleOption,
    Scoring,
    Stage,
    Status,
    check_weight,
)

__all__ = [
    "CROSSWALK_COLUMNS",
    "FOLDER_KINDS",
    "HISTORY_COLUMNS",
    "STATUSES",
    "TIDY_KINDS",
    "WEIGHT_MAX",
    "WEIGHT_MIN",
    "Band",
    "Condition",
    "Dimension",
    "Framework",
    "FrameworkIdentity",
    "FrameworkMeta",
    "Instrument",
    "Item",
    "ItemChange",
    "Lens",
    "LensMeta",
    "LensSpec",
    "LevelNames",
    "Measure",
    "Principle",
    "Revision",
    "Scale",
    "ScaleOption",
    "Scoring",
    "Stage",
    "Status",
    "changed_items",
    "check_weight",
    "default_framework_path",
    "history_frame",
    "json_schemas",
    "load_framework",
    "load_history",
    "load_lens",
]
