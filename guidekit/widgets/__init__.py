"""Workshop widgets: the questionnaire and the facilitator view (ipywidgets, Voilà).

``notebooks/workshop.ipynb`` only calls :func:`workshop`; ``guidekit workshop``
serves that notebook through Voilà.  The logic lives in
:mod:`guidekit.widgets.model` (testable without a browser); the widget modules
only draw it.  Answers go to a :mod:`guidekit.store` the moment they change.
"""

from __future__ import annotations

from guidekit.widgets.app import Workshop, workshop
from guidekit.widgets.errors import ErrorPanel, log_path
from guidekit.widgets.facilitator import FacilitatorView
from guidekit.widgets.model import Facilitator, Outcome, Questionnaire
from guidekit.widgets.questionnaire import QuestionnaireView

__all__ = [
    "ErrorPanel",
    "Facilitator",
    "FacilitatorView",
    "Outcome",
    "Questionnaire",
    "QuestionnaireView",
    "Workshop",
    "log_path",
    "workshop",
]
