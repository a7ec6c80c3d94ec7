"""Messages between the browser, Voilà and the kernel that hold a lone UTF-16 surrogate.

A browser may send text with a lone surrogate (text cut in the middle of an emoji):
JSON carries it as ``"\\ud83d"``, but Jupyter's message packer encodes JSON as
UTF-8, which cannot hold it, so the message is dropped without a word and the
page never learns that a note was not saved.  :func:`json_packer` packs such a
message with ASCII escapes instead (valid JSON, read back unchanged), so it
reaches the workshop page, whose store refuses the text with a readable message
(:func:`guidekit.store.text_problem`, ``surrogate``).

``guidekit workshop`` sets it for Voilà (``--Session.packer``); the workshop page
sets it for its own kernel (:func:`use_in_kernel`).
"""

from __future__ import annotations

import json
from typing import Any

#: Import path of :func:`json_packer` (a ``Session.packer`` value).
PACKER = "guidekit.widgets.wire.json_packer"


def json_packer(obj: Any) -> bytes:
    """Jupyter's JSON packer, falling back to ASCII escapes for text UTF-8 cannot hold."""
    from jupyter_client.session import json_default
    from jupyter_client.session import json_packer as standard

    try:
        return standard(obj)
    except UnicodeEncodeError:
        return json.dumps(obj, default=json_default, ensure_ascii=True, allow_nan=False).encode(
            "ascii"
        )


def use_in_kernel() -> bool:
    """Use :func:`json_packer` for the messages of the running IPython kernel, if any.

    Returns True when a kernel was found (a page shown by Voilà or Jupyter)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    session = getattr(getattr(shell, "kernel", None), "session", None)
    if session is None:
        return False
    if session.packer != PACKER:
        session.packer = PACKER
    return True
