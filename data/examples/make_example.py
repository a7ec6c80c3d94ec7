"""Make the bundled example round: real agencies, SYNTHETIC answers.

    python data/examples/make_example.py     # writes rounds/2026/<機關代碼>.csv + dataset.yaml
    python data/examples/make_example.py --agencies 300 --out /tmp/round300
                                             # a larger round for benchmarks (see below)

Every number here is invented by a seeded random model; rerunning the script
gives byte-identical files.  The model: each agency has a maturity level, each
principle a government-wide difficulty (open first and encouraging digital use
are weakest, as expected), each agency × principle a deviation; each respondent
leans optimistic or pessimistic; answers come from thresholds on the sum plus
noise.  Some items are not applicable (with a reason), some unanswered, some
answered with a note.

Each agency's answers are one file, as agencies send them in: most in UTF-8
with a BOM (Excel's 「CSV UTF-8」), every fifth in CP950 (Excel's plain 「CSV」 on
zh-TW Windows).  The folder is marked synthetic in ``dataset.yaml``; reports
built from it say so on their first screen.

A second, EARLIER round (``rounds/2025/``) is made from the same agencies: each
agency's 2026 profile (form, service, respondents, principle deviations) is
carried back with a lower maturity (most agencies improved by 2026, a few got
worse).  The 2025 answers were given against question bank "2025.10", in which
SV-P11-02 was worded more leniently (see data/frameworks/tw-dsg/changes.yaml),
so that item was easier to meet in 2025; the files carry a 題庫版本 column.
The 2025 round uses its own seeded generator, so the 2026 files do not change.

Improvement actions (``actions/actions-<round>.csv``) come last, from a third seeded
generator and from the answers just written (read and scored by guidekit): in 2025 most
agencies record actions for some of their gaps (owner a unit, a due date, often a
recommended supporting measure); in 2026 each 2025 action is updated — done (more often
where the item's answer improved), still in progress, left as planned (overdue by then)
or dropped with a reason, some not updated at all — and new actions are recorded for 2026
gaps.  Making the actions never draws from the answers' generators: answers do not change.

``--agencies N --out DIR`` writes only the latest round, for N agencies, to DIR (for
benchmarks; the bundled rounds are not touched): the real agencies first, in the same
order and from the same seeded generator as the bundled round (so for N up to their
number the files equal the bundled ones), then invented agencies ``示範機關0001`` …
with codes ``SYN00001`` …, drawn by the same model.  The same N gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from guidekit.answers import Action, ActionStatus, actions_frame, make_action_id  # noqa: E402
from guidekit.files import table_csv  # noqa: E402
from guidekit.framework import load_framework  # noqa: E402

SEED = 20261129
ROUND = "2026"
#: The earlier round, its own seed, and the question-bank version its answers used.
EARLIER_ROUND = "2025"
EARLIER_SEED = 20251031
EARLIER_VERSION = "2025.10"
#: Items worded differently in the earlier bank, with how much easier they were then.
EARLIER_EASIER = {"SV-P11-02": 0.9}

#: Government-wide difficulty per principle (positive = harder).
PRINCIPLE_DIFFICULTY = {
    "P01": -0.1,
    "P02": 0.1,
    "P03": -0.3,
    "P04": 0.35,
    "P05": 0.2,
    "P06": 0.0,
    "P07": -0.4,
    "P08": 0.6,
    "P09": 0.45,
    "P10": 0.0,
    "P11": 0.1,
    "P12": 0.5,
    "P13": 0.3,
}

ROLES = ["資訊單位承辦人", "業務單位科長", "研考單位專員", "第一線服務人員", "資訊單位主管"]

SERVICES = ["線上申辦服務", "民眾陳情案件線上服務", "補助申請網站", "行動應用程式", "預約服務系統"]
PLANS = ["數位服務精進計畫", "資訊系統整合計畫", "智慧服務推動計畫"]

NOTES = {
    "Y": [
        "已於年度計畫中辦理並有紀錄。",
        "有會議紀錄及成果報告可佐證。",
        "已納入標準作業程序，每季檢視。",
        "委外契約已明定此要求。",
    ],
    "P": [
        "部分業務已辦理，尚未全面推動。",
        "已有初步規劃，細節仍在討論中。",
        "僅在主要服務辦理，其他服務待後續擴充。",
        "有做但沒有留下完整紀錄。",
    ],
    "N": [
        "目前人力不足，尚未辦理。",
        "預計下一年度編列經費後辦理。",
        "尚未規劃，需要外部協助。",
    ],
    "NA": [
        "本服務無臨櫃管道。",
        "本案為內部行政系統，不直接對外提供服務。",
        "本服務不蒐集個人資料。",
        "本計畫不涉及系統開發，僅為資料整合。",
    ],
}

LABELS = {
    "plan": {"Y": "已規劃", "P": "部分規劃", "N": "未規劃", "NA": "不適用"},
    "service": {"Y": "符合", "P": "部分符合", "N": "不符合", "NA": "不適用"},
}

HEADER = [
    "評估回合",
    "機關代碼",
    "機關名稱",
    "服務名稱",
    "自評表",
    "填答者",
    "題號",
    "答案",
    "說明",
    "填答時間",
]


def agencies() -> list[dict[str, str]]:
    with (ROOT / "data" / "agencies" / "agencies.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if r["kind"] != "cabinet"]


def synthetic_agencies(n: int) -> list[dict[str, str]]:
    """``n`` agencies: the register's (as :func:`agencies`), then invented ones (codes
    ``SYN00001`` …, names ``示範機關0001`` …, central and local in turn)."""
    real = agencies()
    extra = [
        {
            "agency_id": f"SYN{k:05d}",
            "name_zh": f"示範機關{k:04d}",
            "level": "central" if k % 2 else "local",
        }
        for k in range(1, max(0, n - len(real)) + 1)
    ]
    return (real + extra)[:n]


def answer_for(latent: float) -> str:
    if latent > 0.55:
        return "Y"
    if latent > -0.55:
        return "P"
    return "N"


def draw_profile(
    rng: random.Random, agency: dict[str, str], fw, round_id: str, workshop_month: int
) -> dict:
    """An agency's situation in a round: maturity, form, service, respondents, leanings."""
    maturity = rng.gauss(0.6 if agency["level"] == "central" else 0.4, 0.5)
    instrument = "plan" if rng.random() < 0.3 else "service"
    service = rng.choice(PLANS if instrument == "plan" else SERVICES)
    n_resp = rng.randint(2, 5)
    respondents = rng.sample(ROLES, n_resp)
    bias = {r: rng.gauss(0, 0.25) for r in respondents}
    deviation = {p.id: rng.gauss(0, 0.45) for p in fw.principles}
    # a few agencies have one principle far below their own level
    if rng.random() < 0.3:
        deviation[rng.choice(list(deviation))] -= 1.2
    day = dt.datetime(int(round_id[:4]), workshop_month, rng.randint(1, 28), 9, 30)
    na_items = {i.id for i in fw.items[instrument] if rng.random() < 0.035}
    return {
        "maturity": maturity,
        "instrument": instrument,
        "service": service,
        "respondents": respondents,
        "bias": bias,
        "deviation": deviation,
        "day": day,
        "na_items": na_items,
    }


def earlier_profile(
    rng: random.Random, later: dict, fw, round_id: str, workshop_month: int
) -> dict:
    """The same agency one round earlier: mostly less mature, same form and service."""
    respondents = list(later["respondents"])
    if rng.random() < 0.4:  # one respondent was someone else then
        others = [r for r in ROLES if r not in respondents]
        if others:
            respondents[rng.randrange(len(respondents))] = rng.choice(others)
    bias = {r: later["bias"].get(r, rng.gauss(0, 0.25)) for r in respondents}
    deviation = {pid: d + rng.gauss(0, 0.2) for pid, d in later["deviation"].items()}
    day = dt.datetime(int(round_id[:4]), workshop_month, rng.randint(1, 28), 9, 30)
    na_items = {i.id for i in fw.items[later["instrument"]] if rng.random() < 0.035}
    return {
        "maturity": later["maturity"] - rng.gauss(0.3, 0.25),
        "instrument": later["instrument"],
        "service": later["service"],
        "respondents": respondents,
        "bias": bias,
        "deviation": deviation,
        "day": day,
        "na_items": na_items,
    }


def answer_rows(
    rng: random.Random,
    agency: dict[str, str],
    profile: dict,
    fw,
    round_id: str,
    easier: dict[str, float] | None = None,
) -> list[list[str]]:
    """One row per respondent × item of the agency's form."""
    rows: list[list[str]] = []
    instrument = profile["instrument"]
    for minute, item in enumerate(fw.items[instrument]):
        item_difficulty = rng.gauss(0, 0.35) + (0.25 if item.major else 0)
        item_difficulty -= (easier or {}).get(item.id, 0.0)
        for k, respondent in enumerate(profile["respondents"]):
            at = profile["day"] + dt.timedelta(minutes=minute + 2 * k)
            if item.id in profile["na_items"] and rng.random() < 0.85:
                code = "NA"
            elif rng.random() < 0.015:
                code = ""  # left unanswered
            else:
                latent = (
                    profile["maturity"]
                    - PRINCIPLE_DIFFICULTY[item.principle]
                    + profile["deviation"][item.principle]
                    - item_difficulty
                    + profile["bias"][respondent]
                    + rng.gauss(0, 0.45)
                )
                code = answer_for(latent)
            note = ""
            if code == "NA":
                note = rng.choice(NOTES["NA"])
            elif code and rng.random() < 0.2:
                note = rng.choice(NOTES[code])
            rows.append(
                [
                    round_id,
                    agency["agency_id"],
                    agency["name_zh"],
                    profile["service"],
                    instrument,
                    respondent,
                    item.id,
                    LABELS[instrument][code] if code else "",
                    note,
                    at.isoformat() + "+08:00",
                ]
            )
    return rows


def make_round(
    rng: random.Random,
    round_id: str,
    workshop_month: int,
    chosen: list[dict[str, str]] | None = None,
) -> tuple[dict[str, list[list[str]]], dict[str, dict]]:
    """The latest round: answers per agency (default the register's), and each agency's profile."""
    fw = load_framework(ROOT / "data" / "frameworks" / "tw-dsg")
    files: dict[str, list[list[str]]] = {}
    profiles: dict[str, dict] = {}
    for agency in chosen if chosen is not None else agencies():
        profile = draw_profile(rng, agency, fw, round_id, workshop_month)
        profiles[agency["agency_id"]] = profile
        files[agency["agency_id"]] = answer_rows(rng, agency, profile, fw, round_id)
    return files, profiles


def make_earlier_round(
    rng: random.Random, later: dict[str, dict], round_id: str, version: str, workshop_month: int
) -> dict[str, list[list[str]]]:
    """The earlier round from the later profiles; each row ends with the bank version."""
    fw = load_framework(ROOT / "data" / "frameworks" / "tw-dsg")
    files: dict[str, list[list[str]]] = {}
    for agency in agencies():
        profile = earlier_profile(rng, later[agency["agency_id"]], fw, round_id, workshop_month)
        rows = answer_rows(rng, agency, profile, fw, round_id, easier=EARLIER_EASIER)
        files[agency["agency_id"]] = [[*row, version] for row in rows]
    return files


def write(
    files: dict[str, list[list[str]]],
    round_id: str,
    header: list[str] = HEADER,
    note: str = "",
    folder: Path | None = None,
) -> Path:
    folder = folder if folder is not None else HERE / "rounds" / round_id
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    for n, (agency_id, rows) in enumerate(files.items()):
        # UTF-8 with BOM is Excel's 「CSV UTF-8」; CP950 is its plain 「CSV」 on zh-TW Windows.
        encoding = "cp950" if n % 5 == 4 else "utf-8-sig"
        with (folder / f"{agency_id}.csv").open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
    meta = folder / "dataset.yaml"
    meta.write_text(
        "# Metadata of the bundled example round (read by guidekit).\n"
        "synthetic: true\n"
        f"title: 政府數位服務指引自評示範資料（{round_id}年度評估回合，合成資料）\n"
        "description: >-\n"
        "  Real agency names and codes (data/agencies/agencies.csv) with SYNTHETIC answers made by\n"
        f"  data/examples/make_example.py (seed {SEED}). Not any agency's real self-assessment.\n"
        f"generated_by: data/examples/make_example.py\n"
        f"seed: {SEED}\n" + note,
        encoding="utf-8",
    )
    return folder


#: Seed of the improvement actions (their own generator: the answers never change).
ACTIONS_SEED = 20261204
#: Owners: units and roles, never a person's name.
OWNERS = ["資訊室", "研考科", "服務設計小組", "業務科", "秘書室", "資訊室系統組", "為民服務中心"]
#: Generic action texts when an item has no recommended supporting measure.
ACTION_TEXTS = [
    "盤點現況並訂定改善作法，於主管會報追蹤",
    "修訂作業程序並辦理同仁說明會",
    "於下一期委外契約納入相關要求",
    "訪談使用者與第一線人員，整理改善需求",
]
DROP_REASONS = ["併入新年度整體系統改版計畫辦理", "經評估改採其他配套措施", "業務移撥他機關"]


def make_actions(rounds: list[str]) -> dict[str, list[Action]]:
    """Plausible improvement actions for the example rounds (see the module docstring)."""
    from guidekit.intake import read_responses
    from guidekit.scoring import measures_for_item, score

    fw = load_framework(ROOT / "data" / "frameworks" / "tw-dsg")
    titles = {m.id: m.title_zh for m in fw.measures}
    items = {}
    for round_id in rounds:
        scored = score(read_responses(HERE / "rounds" / round_id, fw)).items
        items[round_id] = {
            (r.agency_id, r.item_id): (r.service, r.instrument, r.status, r.value, r.agency_name)
            for r in scored.itertuples()
        }
    rng = random.Random(ACTIONS_SEED)
    first, second = rounds
    out: dict[str, list[Action]] = {first: [], second: []}

    def new(round_id: str, key: tuple[str, str], due: dt.date, status: ActionStatus) -> Action:
        service, instrument, _status, _value, name = items[round_id][key]
        measures = measures_for_item(fw, key[1])
        measure = rng.choice(measures) if measures and rng.random() < 0.7 else ""
        text = f"推動配套措施：{titles[measure]}" if measure else rng.choice(ACTION_TEXTS)
        return Action(
            action_id=make_action_id(round_id, key[0], service, instrument, key[1], text),
            round=round_id,
            agency_id=key[0],
            agency_name=name,
            service=service,
            instrument=instrument,
            item_id=key[1],
            text=text,
            owner=rng.choice(OWNERS),
            due=due,
            status=status,
            measure_id=measure,
            target="Y" if rng.random() < 0.5 else "",
        )

    def gaps(round_id: str, agency_id: str) -> list[tuple[str, str]]:
        return sorted(
            key
            for key, v in items[round_id].items()
            if key[0] == agency_id and v[2] in ("partial", "not_met")
        )

    year = int(first[:4])
    for agency_id in sorted({k[0] for k in items[first]}):
        found = gaps(first, agency_id)
        if not found or rng.random() < 0.25:
            continue  # some agencies recorded no actions
        for key in rng.sample(found, min(len(found), rng.randint(2, 5))):
            due = dt.date(year + 1, rng.randint(1, 9), rng.randint(1, 28))
            status = ActionStatus.IN_PROGRESS if rng.random() < 0.3 else ActionStatus.PLANNED
            out[first].append(new(first, key, due, status))
    for action in out[first]:
        later = items[second].get((action.agency_id, action.item_id))
        improved = (
            later is not None and later[3] > items[first][(action.agency_id, action.item_id)][3]
        )
        draw = rng.random()
        if draw < 0.12:
            continue  # not updated in 2026: still open, carried forward
        if draw < (0.75 if improved else 0.4):
            finished = action.due + dt.timedelta(days=rng.randint(-60, 45))
            update = dict(status=ActionStatus.DONE, completed=finished)
        elif draw < 0.85:
            update = dict(status=ActionStatus.IN_PROGRESS)
        elif draw < 0.93:
            update = dict(status=ActionStatus.PLANNED)
        else:
            update = dict(status=ActionStatus.DROPPED, reason=rng.choice(DROP_REASONS))
        out[second].append(Action(**{**action.__dict__, **update, "round": second}))
    year = int(second[:4])
    for agency_id in sorted({k[0] for k in items[second]}):
        updated = {a.item_id for a in out[second] if a.agency_id == agency_id}
        found = [k for k in gaps(second, agency_id) if k[1] not in updated]
        if not found or rng.random() < 0.3:
            continue
        for key in rng.sample(found, min(len(found), rng.randint(1, 4))):
            # a few were due in the first half of the year and are still planned: overdue
            overdue = rng.random() < 0.2
            due = (
                dt.date(year, rng.randint(3, 6), rng.randint(1, 28))
                if overdue
                else dt.date(year + 1, rng.randint(1, 12), rng.randint(1, 28))
            )
            out[second].append(new(second, key, due, ActionStatus.PLANNED))
    return out


def write_actions(actions: dict[str, list[Action]]) -> Path:
    """Each round's actions as ``actions/actions-<round>.csv`` (UTF-8 with BOM, zh-TW headers)."""
    from guidekit.store import export_actions_table

    folder = HERE / "actions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yaml").write_text(
        "# Metadata of the bundled example's improvement actions (read by guidekit).\n"
        "synthetic: true\n"
        "title: 政府數位服務指引自評示範資料：改善行動（合成資料）\n"
        "description: >-\n"
        "  SYNTHETIC improvement actions for the example rounds (2025, 2026), made by\n"
        f"  data/examples/make_example.py from the example answers (seed {ACTIONS_SEED}).\n"
        "  Owners are units, not people. Not any agency's real plan.\n"
        "generated_by: data/examples/make_example.py\n"
        f"seed: {ACTIONS_SEED}\n",
        encoding="utf-8",
    )
    for round_id, listed in actions.items():
        table = export_actions_table(actions_frame(listed), "zh-TW")
        data = table_csv(table, excel=False, lineterminator="\r\n")
        (folder / f"actions-{round_id}.csv").write_bytes(data)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, help="agencies in the round (with --out)")
    parser.add_argument("--out", type=Path, help="folder for the round (with --agencies)")
    args = parser.parse_args()
    if (args.agencies is None) != (args.out is None):
        parser.error("--agencies and --out go together")
    if args.agencies is not None:
        chosen = synthetic_agencies(args.agencies)
        files, _ = make_round(random.Random(SEED), ROUND, 10, chosen)
        folder = write(files, ROUND, folder=args.out)
        n_rows = sum(len(rows) for rows in files.values())
        print(f"wrote {folder}/: {n_rows} answers from {len(files)} agencies")
        return
    rng = random.Random(SEED)
    files, profiles = make_round(rng, ROUND, 10)
    folder = write(files, ROUND)
    n_rows = sum(len(rows) for rows in files.values())
    print(f"wrote {folder.relative_to(ROOT)}/: {n_rows} answers from {len(files)} agencies")

    earlier = make_earlier_round(
        random.Random(EARLIER_SEED), profiles, EARLIER_ROUND, EARLIER_VERSION, 10
    )
    folder = write(
        earlier,
        EARLIER_ROUND,
        header=[*HEADER, "題庫版本"],
        note=(f'earlier_round_seed: {EARLIER_SEED}\nquestion_bank_version: "{EARLIER_VERSION}"\n'),
    )
    n_rows = sum(len(rows) for rows in earlier.values())
    print(f"wrote {folder.relative_to(ROOT)}/: {n_rows} answers from {len(earlier)} agencies")

    actions = make_actions([EARLIER_ROUND, ROUND])
    folder = write_actions(actions)
    counts = ", ".join(f"{r}: {len(a)}" for r, a in actions.items())
    print(f"wrote {folder.relative_to(ROOT)}/: actions ({counts})")


if __name__ == "__main__":
    main()
