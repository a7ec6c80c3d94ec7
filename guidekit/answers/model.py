"""The answers as guidekit holds them: :class:`Responses` (the canonical table and where it
came from)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from guidekit.answers.rules import metadata_flag
from guidekit.framework import Framework
from guidekit.problems import Problem


@dataclasses.dataclass
class SourceInfo:
    """What was read from one file: its path, detected encoding and row count."""

    file: str
    encoding: str
    rows: int
    columns: dict[str, str]  # canonical column -> header as written
    #: Metadata of this file (its folder's ``dataset.yaml``, then ``<file>.meta.yaml``).
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: The worksheet, when a file is read sheet by sheet (a guidekit form, issue 10).
    sheet: str | None = None


@dataclasses.dataclass
class Responses:
    """Answers in canonical form, with what was noticed while reading them.

    Attributes
    ----------
    frame : DataFrame
        The canonical long table (see module docstring for columns).
    framework : Framework
        The framework the answers were validated against.
    problems : list of Problem
        Warnings (reading succeeded; errors raise instead).
    sources : list of SourceInfo
    metadata : dict
        Merged sidecar metadata (``<file>.meta.yaml``), e.g. ``{"synthetic": True}``.
    """

    frame: pd.DataFrame
    framework: Framework
    problems: list[Problem] = dataclasses.field(default_factory=list)
    sources: list[SourceInfo] = dataclasses.field(default_factory=list)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        frame = self.frame
        rounds = ", ".join(sorted(set(frame["round"]))) or "-"
        return (
            f"<Responses: {len(frame)} answers, {frame['agency_id'].nunique()} agencies, "
            f"rounds {rounds}, {len(self.sources)} source(s), {len(self.problems)} warning(s); "
            f"the table is .frame>"
        )

    @property
    def synthetic(self) -> bool:
        """True when every answer file is marked synthetic (example data) in its metadata
        (read by :func:`metadata_flag`: ``synthetic: no`` is false)."""
        if self.sources:
            return all(metadata_flag(s.metadata, "synthetic") for s in self.sources)
        return metadata_flag(self.metadata, "synthetic")

    def synthetic_for(self, agency_id: str) -> bool:
        """True when the answers of this agency come (also) from a file marked synthetic."""
        marked = {s.file for s in self.sources if metadata_flag(s.metadata, "synthetic")}
        if not self.sources:
            return metadata_flag(self.metadata, "synthetic")
        files = set(self.frame.loc[self.frame["agency_id"] == agency_id, "source_file"])
        return bool(files & marked)

    def agencies(self) -> pd.DataFrame:
        """One row per (round, agency_id, agency_name, service, instrument), with ``n_respondents``."""
        keys = ["round", "agency_id", "agency_name", "service", "instrument"]
        return (
            self.frame.groupby(keys, sort=True, dropna=False)["respondent"]
            .nunique()
            .rename("n_respondents")
            .reset_index()
        )
