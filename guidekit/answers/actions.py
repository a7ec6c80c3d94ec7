"""Improvement actions (改善行動): what an agency will do about a gap, who owns it, by when.

For any check item answered below the top of its scale an agency may record an action:
what will be done, its owner (a role or unit — 資訊室, 服務設計小組 — not a person's
name), a due date, its status, the supporting measure (配套措施, 附件3) it uses and
the answer it aims for.  An action belongs to one assessment (round, agency, service,
instrument) and keeps its ``action_id`` from round to round: next round's form lists
last round's open actions under the same id so the agency updates their status.

This module is the one home of

* the action columns (:data:`ACTION_FIELDS`: one spec feeding the table, the headers a
  file may use, the export headers and the open-data table schema);
* the :class:`Action` record and its status (:class:`ActionStatus`);
* the rules every action obeys (:func:`check_actions`), wherever it comes from (an
  actions file, a form's actions sheet, the workshop, the store).

The action table (:func:`actions_frame`) has one row per (round, action_id):

==================  =======  ==========================================================
column              dtype    meaning
==================  =======  ==========================================================
action_id           string   stable id, the same in every round (``A-`` + 10 hex digits)
round               string   評估回合 the action was recorded or updated in
agency_id           string   機關代碼
agency_name         string   機關名稱
service             string   服務／計畫名稱 (``""`` when the assessment has none)
instrument          string   自評表 id (``plan`` / ``service``)
item_id             string   檢核項目 the action addresses
text                string   改善行動: what will be done (free text)
owner               string   負責單位: a role or unit
due                 string   預定完成日, ISO ``YYYY-MM-DD``
status              string   :class:`ActionStatus` value
completed           string   完成日 of a done action, ISO, or ``""`` (unknown)
reason              string   why it was dropped (required then), else a note
measure_id          string   配套措施 id or ``""``
target              string   the answer code aimed for (``"Y"``) or ``""``
==================  =======  ==========================================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from guidekit import i18n
from guidekit.answers.columns import HEADER_ALIASES, header_key
from guidekit.answers.rules import round_key
from guidekit.framework import Framework
from guidekit.problems import Problem, Severity
from guidekit.text import CONTROL, clean, clean_key


class ActionStatus(i18n.LabelledEnum):
    """Where an action stands (words: 規劃中 / 進行中 / 已完成 / 已取消, ``action.status.*``
    in the messages).  ``dropped`` needs a reason."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"

    @classmethod
    def messages_key(cls) -> str:
        return "action.status"

    @property
    def is_open(self) -> bool:
        """Planned or in progress: still to be done (pre-filled in next round's form)."""
        return self in OPEN_STATUSES


#: (zh-TW, English) words of each status: the form's drop-down and every view.
STATUS_LABELS: dict[ActionStatus, tuple[str, str]] = {s: s.labels() for s in ActionStatus}

#: Other spellings accepted in files (matched after NFKC, trimming and case folding).
STATUS_ALIASES: dict[ActionStatus, tuple[str, ...]] = {
    ActionStatus.PLANNED: ("未開始", "計畫中", "計劃中", "規劃", "待辦", "not started", "todo"),
    ActionStatus.IN_PROGRESS: ("執行中", "辦理中", "in-progress", "in_progress", "ongoing"),
    ActionStatus.DONE: ("完成", "已辦理", "已完成辦理", "completed", "complete"),
    ActionStatus.DROPPED: ("取消", "放棄", "不執行", "已放棄", "cancelled", "canceled"),
}

OPEN_STATUSES = frozenset({ActionStatus.PLANNED, ActionStatus.IN_PROGRESS})

_STATUS_KEYS = {
    clean_key(text): status
    for status in ActionStatus
    for text in (status.value, *STATUS_LABELS[status], *STATUS_ALIASES[status])
}


def parse_status(text: object) -> ActionStatus | None:
    """The status a person typed (code, zh/en word or alias), or None."""
    if isinstance(text, ActionStatus):
        return text
    if not isinstance(text, str):
        return None
    return _STATUS_KEYS.get(clean_key(text))


@dataclasses.dataclass(frozen=True)
class ActionField:
    """One column of the action table: its name, headers, accepted aliases, meaning.

    ``required`` columns must hold a value in every row; ``kind`` is the Frictionless
    field type (``"string"`` or ``"date"``).
    """

    name: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    required: bool
    description: str
    kind: str = "string"


_ANSWER = {c: HEADER_ALIASES[c] for c in ("round", "agency_id", "agency_name", "service")}

#: The action columns in order (see the module docstring): the one spec behind the
#: table, the headers files may use, the exports' headers and the open-data schema.
ACTION_FIELDS: tuple[ActionField, ...] = (
    ActionField(
        "action_id",
        "行動編號",
        "Action id",
        ("action_id", "行動編號", "行動代碼", "改善行動編號"),
        False,
        "stable across rounds; blank in a new row (guidekit gives it one)",
    ),
    ActionField("round", "評估回合", "Round", _ANSWER["round"], True, "round of this record"),
    ActionField(
        "agency_id", "機關代碼", "Agency code", _ANSWER["agency_id"], True, "agency code (text)"
    ),
    ActionField(
        "agency_name", "機關名稱", "Agency name", _ANSWER["agency_name"], True, "agency name"
    ),
    ActionField(
        "service",
        "服務名稱",
        "Service",
        _ANSWER["service"],
        False,
        "service or plan; blank if none",
    ),
    ActionField(
        "instrument",
        "自評表",
        "Form",
        HEADER_ALIASES["instrument"],
        False,
        "self-assessment form id; from the item id when blank",
    ),
    ActionField(
        "item_id", "題號", "Item", HEADER_ALIASES["item_id"], True, "the check item with a gap"
    ),
    ActionField(
        "text",
        "改善行動",
        "Action",
        ("text", "action", "action_text", "改善行動", "行動", "行動內容", "辦理事項"),
        True,
        "what will be done",
    ),
    ActionField(
        "owner",
        "負責單位",
        "Owner",
        ("owner", "responsible", "負責單位", "權責單位", "主責單位", "負責角色"),
        True,
        "a role or unit (not a person's name)",
    ),
    ActionField(
        "due",
        "預定完成日",
        "Due date",
        ("due", "due_date", "deadline", "預定完成日", "預定完成日期", "完成期限", "期限"),
        True,
        "ISO date; 民國 (115/3/31, 115年3月31日) or Gregorian accepted on input",
        "date",
    ),
    ActionField(
        "status",
        "辦理情形",
        "Status",
        ("status", "辦理情形", "狀態", "辦理狀態", "執行情形"),
        True,
        "planned / in_progress / done / dropped",
    ),
    ActionField(
        "completed",
        "完成日",
        "Completed on",
        ("completed", "completed_on", "done_on", "完成日", "完成日期", "實際完成日"),
        False,
        "the date a done action was completed (ISO; 民國 accepted on input); blank if unknown",
        "date",
    ),
    ActionField(
        "reason",
        "理由或說明",
        "Reason or note",
        ("reason", "理由或說明", "取消理由", "理由", "備註"),
        False,
        "why the action was dropped (required then); otherwise a note",
    ),
    ActionField(
        "measure_id",
        "配套措施",
        "Supporting measure",
        ("measure_id", "measure", "配套措施", "配套措施編號"),
        False,
        "the supporting measure (附件3) the action uses, if any",
    ),
    ActionField(
        "target",
        "目標答案",
        "Target answer",
        ("target", "target_answer", "目標答案", "目標"),
        False,
        "the answer aimed for (a code of the item's scale)",
    ),
)

ACTION_COLUMNS = tuple(f.name for f in ACTION_FIELDS)
#: Required action columns (a file lacking one is refused).
ACTION_REQUIRED = tuple(f.name for f in ACTION_FIELDS if f.required)
#: zh-TW header of each action column in files guidekit writes (each is one of its aliases).
ACTION_ZH_HEADERS = {f.name: f.zh for f in ACTION_FIELDS}
#: Header as found (after :func:`header_key`) → action column.
ACTION_ALIAS_TO_COLUMN = {
    header_key(a): f.name for f in ACTION_FIELDS for a in (*f.aliases, f.zh, f.en)
}
#: An action table's key: one record per round and action.
ACTION_KEY = ("round", "action_id")


def is_action_header(header: Iterable[str]) -> bool:
    """True when a header row names the columns only an action table has (action, owner, due)."""
    found = {ACTION_ALIAS_TO_COLUMN.get(header_key(clean(h))) for h in header if isinstance(h, str)}
    return {"text", "owner", "due"} <= found


@dataclasses.dataclass(frozen=True)
class Action:
    """One improvement action, as recorded in one round (see the module docstring)."""

    action_id: str
    round: str
    agency_id: str
    agency_name: str
    service: str
    instrument: str
    item_id: str
    text: str
    owner: str
    due: dt.date
    status: ActionStatus
    completed: dt.date | None = None
    reason: str = ""
    measure_id: str = ""
    target: str = ""

    def row(self) -> dict[str, str]:
        """The record as text, in :data:`ACTION_COLUMNS` order (``due`` ISO, ``status`` its code)."""
        values = dataclasses.asdict(self)
        values["due"] = self.due.isoformat()
        values["status"] = self.status.value
        values["completed"] = self.completed.isoformat() if self.completed else ""
        return {c: str(values[c]) for c in ACTION_COLUMNS}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Action:
        """The record of a row guidekit wrote (:meth:`row`, the store, an export).

        Raises
        ------
        ValueError
            If ``due`` or ``status`` is not valid (rows from people go through
            :func:`check_actions` instead).
        """
        due = i18n.parse_date(row["due"])
        status = parse_status(row["status"])
        if due is None or status is None:
            raise ValueError(f"not an action record: due={row['due']!r} status={row['status']!r}")
        text = {c: "" if _blank(row.get(c)) else str(row.get(c)) for c in ACTION_COLUMNS}
        completed = i18n.parse_date(text["completed"]) if text["completed"] else None
        return cls(**{**text, "due": due, "status": status, "completed": completed})


def is_overdue(action: Action, on: dt.date) -> bool:
    """True when ``action`` is still open (planned / in progress) and its due date is
    before ``on``: the one home of "overdue"."""
    return action.status.is_open and action.due < on


def make_action_id(
    round: str, agency_id: str, service: str, instrument: str, item_id: str, text: str
) -> str:
    """The id of a new action: ``A-`` and 10 hex digits of a SHA-256 of where it belongs
    and what it says.  Made once, when the action is first recorded (a form's new row, the
    workshop's "add"), then kept in every round however its text changes; the same action
    entered through a form and through the workshop gets the same id."""
    key = "\x1f".join((round, agency_id, service, instrument, item_id, clean(text)))
    return "A-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def _blank(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and value != value)
        or (isinstance(value, str) and not value.strip())
    )


@dataclasses.dataclass(frozen=True)
class ActionRow:
    """A row of actions as read, before checking: where it is and its values by column.

    ``headers`` maps a column to its header as written (problems name it); missing
    columns fall back to the zh-TW header.
    """

    file: str
    row: int | None
    values: Mapping[str, Any]
    sheet: str | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


#: Status of an item that makes it *not* a gap (nothing to act on): every applicable
#: answer at the top of the scale, or not applicable.
NOT_GAP = frozenset({"met", "na"})


def check_actions(
    rows: Sequence[ActionRow],
    framework: Framework,
    *,
    today: dt.date | None = None,
    item_status: Mapping[tuple[str, str, str, str, str], str] | None = None,
) -> tuple[list[Action], list[Problem]]:
    """Check action rows against the framework; every problem at once.

    Parameters
    ----------
    rows : sequence of ActionRow
    framework : Framework
    today : date, optional
        Reference date for "past due" (default :func:`guidekit.i18n.today`, Taipei).
    item_status : mapping, optional
        Combined status (``met`` / ``partial`` / ``not_met`` / ``na`` / ``unanswered``) of
        each (round, agency_id, service, instrument, item_id), from
        :func:`guidekit.scoring.item_statuses`; without it the gap rule is not checked.

    Returns
    -------
    (actions, problems)
        The valid actions (rows with an error are left out) and every problem.

    Notes
    -----
    Errors (the row is not used): a required value blank (``blank``), no owner
    (``action-no-owner``), unknown item (``unknown-item``) or form
    (``unknown-instrument``), a due date that is not a date (``action-bad-date``), an
    unknown status (``action-bad-status``), dropped without a reason
    (``action-dropped-no-reason``), an unknown supporting measure
    (``action-unknown-measure``), a target that is no answer of the item's scale
    (``action-bad-target``), control characters in an id (``control-char``), the same
    action id twice in a round (``action-duplicate``).

    Warnings (the action is kept): an open action past due (``action-past-due``,
    relative to ``today``) and an action for an item that is not a gap
    (``action-not-gap``: its combined answer is at the top of the scale or 不適用).
    The gap rule is a warning, not an error, on purpose: last round's action whose item
    has since reached the top is exactly what the next round's form shows, and it must
    still be read back to record that it was done.
    """
    today = today or i18n.today()
    measures = {m.id for m in framework.measures}
    actions: list[Action] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for raw in rows:
        found: list[Problem] = []

        def problem(
            column: str,
            value: Any,
            code: str,
            severity: Severity = Severity.ERROR,
            raw: ActionRow = raw,
            found: list[Problem] = found,
            **params: Any,
        ) -> None:
            header = raw.headers.get(column, ACTION_ZH_HEADERS[column])
            shown = None if value is None else str(value)
            found.append(
                Problem(raw.file, raw.row, header, shown, code, params, severity, sheet=raw.sheet)
            )

        values = {
            c: "" if _blank(raw.values.get(c)) else str(raw.values.get(c)) for c in ACTION_COLUMNS
        }
        for column in ("round", "agency_id", "service", "instrument", "item_id", "action_id"):
            values[column] = clean(values[column])
            if CONTROL.search(values[column]):
                problem(column, values[column], "control-char")
        values["agency_name"] = clean(values["agency_name"])
        for column in ("owner", "text", "measure_id", "target", "status", "reason"):
            values[column] = values[column].strip()
        for field in ACTION_FIELDS:
            if field.required and not values[field.name] and field.name != "owner":
                problem(field.name, "", "blank", what_zh=field.zh, what_en=field.en)
        if not values["owner"]:
            problem("owner", "", "action-no-owner")
        item = framework.find_item(values["item_id"]) if values["item_id"] else None
        if values["item_id"] and item is None:
            problem(
                "item_id",
                values["item_id"],
                "unknown-item",
                framework=framework.id,
                version=framework.version,
                examples=", ".join(i.id for i in next(iter(framework.items.values()))[:2]),
            )
        instrument = values["instrument"]
        if instrument and not framework.has_instrument(instrument):
            problem(
                "instrument",
                instrument,
                "unknown-instrument",
                instruments=", ".join(i.id for i in framework.instruments),
            )
        elif item is not None:
            instrument = item.instrument
            values["item_id"] = item.id
        due = i18n.parse_date(values["due"]) if values["due"] else None
        if values["due"] and due is None:
            problem("due", values["due"], "action-bad-date")
        completed = i18n.parse_date(values["completed"]) if values["completed"] else None
        if values["completed"] and completed is None:
            problem("completed", values["completed"], "action-bad-date")
        status = parse_status(values["status"]) if values["status"] else None
        if values["status"] and status is None:
            problem(
                "status",
                values["status"],
                "action-bad-status",
                choices_zh="、".join(zh for zh, _ in STATUS_LABELS.values()),
                choices_en=", ".join(s.value for s in ActionStatus),
            )
        if status is ActionStatus.DROPPED and not values["reason"]:
            problem("reason", "", "action-dropped-no-reason")
        if values["measure_id"] and values["measure_id"] not in measures:
            matched = next(
                (m for m in measures if clean_key(m) == clean_key(values["measure_id"])), None
            )
            if matched is None:
                problem(
                    "measure_id",
                    values["measure_id"],
                    "action-unknown-measure",
                    examples=", ".join(sorted(measures)[:3]),
                )
            else:
                values["measure_id"] = matched
        if values["target"] and item is not None and framework.has_instrument(instrument):
            scale = framework.scale(instrument)
            option = scale.match(values["target"])
            code = getattr(option, "code", None) if option is not None else None
            if option is None or getattr(option, "na", False):
                problem(
                    "target",
                    values["target"],
                    "action-bad-target",
                    choices_zh=scale.expected("zh-TW"),
                    choices_en=scale.expected("en"),
                )
            else:
                values["target"] = code if code is not None else values["target"]
        if any(p.is_error for p in found):
            problems += found
            continue
        assert due is not None and status is not None
        action_id = values["action_id"] or make_action_id(
            values["round"],
            values["agency_id"],
            values["service"],
            instrument,
            values["item_id"],
            values["text"],
        )
        where = raw.file + (f" › {raw.sheet}" if raw.sheet else "") + f":{raw.row}"
        key = (values["round"], action_id)
        if key in seen:
            problem("action_id", action_id, "action-duplicate", where=seen[key])
            problems += found
            continue
        seen[key] = where
        action = Action(
            **{
                **values,
                "action_id": action_id,
                "instrument": instrument,
                "due": due,
                "status": status,
                "completed": completed,
            }
        )
        if is_overdue(action, today) and status is ActionStatus.PLANNED:
            problem(
                "due",
                values["due"],
                "action-past-due",
                Severity.WARNING,
                today=today.isoformat(),
            )
        if item_status is not None:
            slot = (action.round, action.agency_id, action.service, instrument, action.item_id)
            if item_status.get(slot) in NOT_GAP:
                problem("item_id", action.item_id, "action-not-gap", Severity.WARNING)
        problems += found
        actions.append(action)
    return actions, problems


def latest_records(actions: Iterable[Action], before: str | None = None) -> list[Action]:
    """Each action's newest record (by :func:`guidekit.answers.round_key` of its round):
    where the action stands now.  With ``before``, only records of rounds before that
    round count (what last round's actions were when a new round starts)."""
    newest: dict[str, Action] = {}
    for action in actions:
        if before is not None and round_key(action.round) >= round_key(before):
            continue
        held = newest.get(action.action_id)
        if held is None or round_key(action.round) >= round_key(held.round):
            newest[action.action_id] = action
    return list(newest.values())


def carried_forward(actions: Iterable[Action], round: str) -> list[Action]:
    """Last rounds' open actions of each assessment, as records of ``round``: what next
    round's form and workshop list for the agency to update (same ``action_id``; an
    action already recorded in ``round`` is not repeated)."""
    actions = list(actions)
    present = {a.action_id for a in actions if a.round == round}
    return [
        dataclasses.replace(a, round=round)
        for a in latest_records(actions, before=round)
        if a.status.is_open and a.action_id not in present
    ]


def actions_frame(actions: Iterable[Action]) -> pd.DataFrame:
    """Actions as the action table (:data:`ACTION_COLUMNS`, every column string dtype),
    ordered by round, agency, service, instrument, item and id."""
    rows = [a.row() for a in actions]
    frame = pd.DataFrame(rows, columns=list(ACTION_COLUMNS)).astype("string")
    return frame.sort_values(
        ["round", "agency_id", "service", "instrument", "item_id", "action_id"], kind="stable"
    ).reset_index(drop=True)


def frame_actions(frame: pd.DataFrame) -> list[Action]:
    """The :class:`Action` records of an action table guidekit made (:func:`actions_frame`)."""
    return [Action.from_row(row) for row in frame.to_dict("records")]


def action_schema() -> dict[str, Any]:
    """A Frictionless table schema of the action table (``fields`` and ``primaryKey``)."""
    fields: list[dict[str, Any]] = []
    for f in ACTION_FIELDS:
        field: dict[str, Any] = {
            "name": f.name,
            "type": f.kind,
            "title": f"{f.zh} {f.en}",
            "description": f.description,
        }
        if f.required:
            field["constraints"] = {"required": True}
        if f.name == "status":
            field["constraints"] = {"required": True, "enum": [s.value for s in ActionStatus]}
        fields.append(field)
    return {"fields": fields, "primaryKey": list(ACTION_KEY), "missingValues": [""]}
