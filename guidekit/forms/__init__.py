"""Fillable self-assessment forms (自評表) sent to agencies: one workbook per agency.

Boundary: writes forms (.ods by default, .xlsx on request) from the question bank,
the agency register and, optionally, earlier answers; reading them back is
:mod:`guidekit.intake.forms`' (the layout both share lives there).  Stage beside
report and research: imports intake and below.
"""

from __future__ import annotations

from guidekit.forms.model import Form, build_form, form_id
from guidekit.forms.write import (
    WrittenForm,
    form_actions,
    latest_answers,
    prefill_rows,
    write_form,
    write_forms,
)
from guidekit.forms.writer import FORMATS, form_bytes

__all__ = [
    "FORMATS",
    "Form",
    "WrittenForm",
    "build_form",
    "form_actions",
    "form_bytes",
    "form_id",
    "latest_answers",
    "prefill_rows",
    "write_form",
    "write_forms",
]
