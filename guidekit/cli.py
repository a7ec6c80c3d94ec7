"""The ``guidekit`` command.

    guidekit validate PATH...            check answer files; exit 1 on errors
    guidekit score PATH... [--format]    scores as CSV or JSON
    guidekit reports [...]               one HTML report per agency + index
    guidekit framework [DIR]             check a framework folder
    guidekit form --agency ID --out F    a fillable self-assessment form (.ods / .xlsx)
    guidekit intake DIR                  one status per returned file; exit 1 if any is refused

Messages are in Traditional Chinese unless ``--lang en`` (or ``GUIDEKIT_LANG=en``)
is given.  Data problems are printed as a list (file, row, column, value,
expected) and exit with status 1; other failures exit with status 2; nothing
prints a bare traceback at a user.  Command-line usage errors (a missing argument,
an unknown option, a value of the wrong kind) are said in Traditional Chinese with
click's English beside (:class:`UsageError`).  A character the console's encoding
cannot show (喆 on a cp950 console) is printed as ``\\u5586`` rather than stopping
the command (:func:`tolerant_console`).
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from guidekit import i18n, scoring
from guidekit.files import check_target, table_csv, write_output
from guidekit.forms import FORMATS, prefill_rows, write_form, write_forms
from guidekit.framework import check_weight, load_framework
from guidekit.intake import agencies as agency_register
from guidekit.intake import file_status, read_actions, with_actions
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.problems import DataError, GuidekitError
from guidekit.render.fonts import has_cjk_font
from guidekit.report.batch import BatchInterrupted, report_filenames, run_reports
from guidekit.research import load, load_actions
from guidekit.research.opendata import export_package
from guidekit.store import copy_store, is_store_url, mask_url
from guidekit.text import printable
from guidekit.widgets.server import serve


class StoreOrPath(click.ParamType):
    """A path, or a ``postgresql://`` URL of an answer store kept as given (a Path would
    fold its ``//``); shown in help as PATH|URL."""

    name = "path|url"

    def convert(self, value: Any, param: Any, ctx: Any) -> Path | str:
        if isinstance(value, Path) or is_store_url(value):
            return value if isinstance(value, Path) else str(value).strip()
        return Path(value)


STORE_OR_PATH = StoreOrPath()

ACTIONS_OPTION = click.option(
    "--actions",
    "actions",
    multiple=True,
    type=STORE_OR_PATH,
    help="改善行動檔案、資料夾或答案儲存檔（可重複；內附範例自帶）/ Improvement-action files, "
    "folders or stores (repeatable; the bundled example has its own).",
)

#: A path argument or option, given to the command as a Path.
PATH = click.Path(path_type=Path)

LANG_OPTION = click.option(
    "--lang",
    default=None,
    envvar="GUIDEKIT_LANG",
    help="訊息與報告的語言：zh-TW（預設）或 en / Language of messages and reports.",
)

FRAMEWORK_OPTION = click.option(
    "--framework",
    type=PATH,
    help="題庫資料夾（預設 tw-dsg）/ Framework folder.",
)


def _lang(ctx: click.Context, lang: str | None) -> str:
    chosen = lang or (ctx.obj or {}).get("lang")
    try:
        return i18n.normalise_lang(chosen)
    except GuidekitError as exc:
        raise UsageError(
            f"--lang 的值不正確：{exc.text('zh-TW')}",
            f"Invalid value for '--lang': {exc.text('en')}",
            ctx,
        ) from None


# -- the console -----------------------------------------------------------------------------

#: The error handler :func:`tolerant_console` gives stdout and stderr.
CONSOLE_ERRORS = "guidekit-console"
_unencodable = {"count": 0}


def _console_errors(exc: UnicodeError) -> tuple[str, int]:
    """``backslashreplace`` that counts what it replaced (said once, at the end)."""
    assert isinstance(exc, UnicodeEncodeError)
    _unencodable["count"] += exc.end - exc.start
    return codecs.backslashreplace_errors(exc)


codecs.register_error(CONSOLE_ERRORS, _console_errors)


def tolerant_console() -> None:
    """Let stdout and stderr write any text in their own encoding: a character the
    encoding lacks (喆 堃 犇 峯 are not in cp950, the encoding of output redirected on
    zh-TW Windows) is written as ``\\u5586`` instead of raising UnicodeEncodeError.
    The encoding itself is kept (a log file stays readable as cp950); how many
    characters were rewritten is said at the end (:func:`say_unencodable`)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", None):
            stream.reconfigure(errors=CONSOLE_ERRORS)


def console_json(data: Any) -> str:
    """``data`` as JSON for standard output (indented, UTF-8 text as written).

    When the console's encoding cannot hold a character (cp950 lacks 喆; no legacy
    encoding has emoji), the JSON is written ASCII-escaped instead (``\\u5586``, a
    surrogate pair beyond U+FFFF), so it stays valid JSON that any reader decodes
    to the same text — never a ``\\U0001f600`` no JSON parser accepts."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text if console_holds(text) else json.dumps(data, ensure_ascii=True, indent=2)


def console_holds(text: str) -> bool:
    """True if standard output's encoding can write every character of ``text``."""
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def say_unencodable() -> None:
    """A note on stderr when :func:`tolerant_console` had to rewrite characters."""
    count, _unencodable["count"] = _unencodable["count"], 0
    if not count:
        return
    encoding = getattr(sys.stdout, "encoding", None) or "?"
    click.echo(
        f"提醒：有 {count} 個字元無法以主控台的編碼 {encoding} 輸出，已改寫為 \\uXXXX 形式；"
        "要完整保存輸出請先設定環境變數 PYTHONIOENCODING=utf-8。\n"
        f"note: {count} character(s) cannot be written in the console's encoding {encoding} "
        "and were written as \\uXXXX; set PYTHONIOENCODING=utf-8 to keep them.",
        err=True,
    )


# -- command-line usage errors ---------------------------------------------------------------


class UsageError(click.UsageError):
    """A command-line usage error said in Traditional Chinese, with English beside.

    ``zh`` and ``en`` are the two texts; :meth:`from_click` makes them from any of
    click's own usage errors (by its class and the parameter it names, not by its
    English words).  Exit status 2, as click's.
    """

    def __init__(self, zh: str, en: str, ctx: click.Context | None = None) -> None:
        super().__init__(en, ctx)
        self.zh = zh

    @classmethod
    def from_click(cls, exc: click.UsageError) -> click.UsageError:
        if isinstance(exc, UsageError | _NO_ARGS_IS_HELP):
            return exc
        return cls(_usage_zh(exc), exc.format_message(), exc.ctx)

    def show(self, file: Any = None) -> None:
        out = file if file is not None else sys.stderr
        ctx = self.ctx
        if ctx is not None:
            click.echo(ctx.get_usage(), file=out)
            helper = ctx.help_option_names[0] if ctx.help_option_names else "--help"
            path = ctx.command_path
            click.echo(f"說明請執行 '{path} {helper}'。Try '{path} {helper}' for help.\n", file=out)
        click.echo(printable(f"錯誤：{self.zh}"), file=out)
        click.echo(printable(f"Error: {self.message}"), file=out)


#: click's "show the help" for a bare ``guidekit``: not an error to translate.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", UsageError)
_KIND_ZH = {"argument": "引數", "option": "選項"}


def _usage_zh(exc: click.UsageError) -> str:
    """The Traditional Chinese text of one of click's usage errors."""
    if isinstance(exc, click.BadParameter):
        param = exc.param
        hint = exc.param_hint
        if isinstance(hint, list | tuple):
            hint = " / ".join(f"'{h}'" for h in hint)
        if hint is None and param is not None and exc.ctx is not None:
            hint = param.get_error_hint(exc.ctx)
        hint = f" {hint}" if hint else ""
        kind = _KIND_ZH.get(param.param_type_name, "參數") if param is not None else "參數"
        if isinstance(exc, click.MissingParameter):
            return f"缺少{kind}{hint}。"
        expected = _expected_zh(param.type) if param is not None else None
        said = f"{kind}{hint} 的值不正確"
        return f"{said}：應為{expected}。" if expected else f"{said}。"
    if isinstance(exc, click.NoSuchOption):
        text = f"沒有 {exc.option_name} 這個選項。"
        if exc.possibilities:
            text += f"您是指 {'、'.join(sorted(exc.possibilities))} 嗎？"
        return text
    if isinstance(exc, click.BadOptionUsage):
        option = _option(exc.ctx, exc.option_name)
        if option is not None and option.is_flag:
            return f"選項 {exc.option_name} 不接受值。"
        return f"選項 {exc.option_name} 後面需要給值。"
    return "命令列的用法不正確（說明見下方英文）。"


def _option(ctx: click.Context | None, name: str) -> click.Option | None:
    if ctx is None:
        return None
    for param in ctx.command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _expected_zh(kind: click.ParamType) -> str | None:
    """What a parameter type accepts, in Traditional Chinese (``None``: nothing to add)."""
    if isinstance(kind, click.IntRange | click.FloatRange):
        number = "整數" if isinstance(kind, click.IntRange) else "數字"
        low = None if kind.min is None else f"{kind.min}{'（不含）' if kind.min_open else ''}"
        high = None if kind.max is None else f"{kind.max}{'（不含）' if kind.max_open else ''}"
        if low is not None and high is not None:
            return f" {low} 到 {high} 的{number}"
        if low is not None:
            return f"不小於 {low} 的{number}"
        return f"不大於 {high} 的{number}"
    if isinstance(kind, click.Choice):
        return "下列之一：" + "、".join(str(c) for c in kind.choices)
    if kind is click.INT:
        return "整數"
    if kind is click.FLOAT:
        return "數字"
    if kind is click.BOOL:
        return " true 或 false"
    return None


class _Command(click.Command):
    """A ``guidekit`` command: extra arguments are a usage error said in both languages."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse = not ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = not refuse
        if rest and refuse and not ctx.resilient_parsing:
            shown = " ".join(rest)
            raise UsageError(
                f"多出了引數：{shown}（含空格的路徑請加引號）。",
                f"Got unexpected extra argument(s) ({shown}).",
                ctx,
            )
        return rest


class _Group(click.Group):
    """The ``guidekit`` group: a console that never stops on an unencodable character,
    and usage errors in Traditional Chinese and English (one place for every command)."""

    command_class = _Command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tolerant_console()
        try:
            return super().main(*args, **kwargs)
        finally:
            say_unencodable()

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            if not args or self.get_command(ctx, args[0]) is not None:
                raise
            import difflib

            close = difflib.get_close_matches(args[0], self.list_commands(ctx))
            guess = f"您是指 {'、'.join(close)} 嗎？" if close else ""
            raise UsageError(
                f"沒有 {args[0]} 這個指令。{guess}", exc.format_message(), ctx
            ) from None

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if exc.ctx is None:  # raised by the option parser
                settings = {**self.context_settings, **extra}
                exc.ctx = click.Context(self, parent=parent, info_name=info_name, **settings)
            raise UsageError.from_click(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if exc.ctx is None and ctx.invoked_subcommand:  # raised by the option parser
                command = self.get_command(ctx, ctx.invoked_subcommand)
                if command is not None:
                    exc.ctx = click.Context(command, parent=ctx, info_name=ctx.invoked_subcommand)
            raise UsageError.from_click(exc) from None


def _say(lang: str, zh: str, en: str, err: bool = False) -> None:
    _echo(zh if lang == "zh-TW" else en, err=err)


def _echo(text: str, err: bool = False, nl: bool = True) -> None:
    """click.echo with control characters from the data made visible (an agency name
    must not be able to move the cursor or recolour a terminal)."""
    click.echo(printable(text), err=err, nl=nl)


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn guidekit errors into readable messages and exit codes (1 data, 2 other)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        lang = _lang(ctx, kwargs.get("lang"))
        try:
            return func(*args, **kwargs)
        except DataError as exc:
            _echo(exc.format(lang), err=True)
            ctx.exit(1)
        except GuidekitError as exc:
            _say(lang, f"錯誤：{exc.text(lang)}", f"error: {exc.text(lang)}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            _say(lang, "已中斷。", "interrupted.", err=True)
            ctx.exit(130)
        except OSError as exc:  # a read-only folder, a full disk, a folder in a file's place
            where = exc.filename or ""
            reason = exc.strerror or type(exc).__name__
            _say(
                lang,
                f"錯誤：無法讀取或寫入 {where}：{reason}",
                f"error: cannot read or write {where}: {reason}",
                err=True,
            )
            ctx.exit(2)

    return wrapper


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="guidekit")
@LANG_OPTION
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """guidekit：政府數位服務指引自評工具。Self-assessment workbook for Taiwan's
    Government Digital Service Guidelines.

    \b
    guidekit reports            以內附範例產製各機關報告 / reports for the bundled example
    guidekit validate 檔案…      檢查填答檔 / check answer files
    guidekit form --agency 代碼 --out 檔案   產生機關自評表 / a fillable form for an agency
    guidekit intake 資料夾        寄回的自評表逐檔狀態 / status of each returned file
    guidekit workshop           開啟自評工作坊 / serve the workshop
    guidekit backup 儲存檔 備份   備份工作坊答案 / back up a workshop store
    """
    ctx.ensure_object(dict)
    ctx.obj["lang"] = lang


@main.command()
@click.argument("paths", nargs=-1, required=True, type=STORE_OR_PATH)
@FRAMEWORK_OPTION
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@LANG_OPTION
@_handle_errors
def validate(paths: tuple[Path, ...], framework: Path | None, fmt: str, lang: str | None) -> None:
    """檢查填答檔案並列出所有問題。Check answer files and list every problem.

    Exit status 0 when there are no errors (warnings are printed), 1 otherwise.
    """

    lang = _lang(click.get_current_context(), lang)
    report = with_actions(validate_responses(list(paths), framework), framework)
    if fmt == "json":
        click.echo(
            console_json(
                {
                    "ok": report.ok,
                    "sources": [
                        {"file": s.file, "sheet": s.sheet, "encoding": s.encoding, "rows": s.rows}
                        for s in report.sources
                    ],
                    "problems": [p.to_dict(lang) for p in report.problems],
                },
            )
        )
    else:
        for source in report.sources:
            where = source.file + (f" › {source.sheet}" if source.sheet else "")
            _say(
                lang,
                f"已讀取 {where}：{source.rows} 列，編碼 {source.encoding}",
                f"read {where}: {source.rows} rows, encoding {source.encoding}",
            )
        for problem in report.problems:
            _echo(problem.format(lang))
        n_err, n_warn = len(report.errors), len(report.problems) - len(report.errors)
        if report.responses is not None and report.ok:
            frame = report.responses.frame
            _say(
                lang,
                f"通過：{len(frame)} 筆答案，{frame['agency_id'].nunique()} 個機關；提醒 {n_warn} 項。",
                f"OK: {len(frame)} answers, {frame['agency_id'].nunique()} agency(ies); {n_warn} warning(s).",
            )
        else:
            _say(
                lang,
                f"未通過：錯誤 {n_err} 項、提醒 {n_warn} 項。",
                f"Not valid: {n_err} errors, {n_warn} warnings.",
            )
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=STORE_OR_PATH)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--level",
    type=click.Choice(["overall", "dimension", "principle", "item"]),
    default="principle",
    show_default=True,
    help="輸出哪一層的分數（預設各原則）/ Which table to print.",
)
@click.option("--round", "round_", help="只計算此評估回合（預設全部）/ Only this round.")
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="ID=W",
    help="調整權重，例如 --weight P08=2（可重複）/ Override a weight (repeatable).",
)
@FRAMEWORK_OPTION
@click.option(
    "-o",
    "--output",
    type=PATH,
    help="寫入檔案（CSV 含 BOM 可用 Excel 開啟）/ Write to this file (CSV with a BOM for Excel).",
)
@LANG_OPTION
@_handle_errors
def score(
    paths: tuple[Path, ...],
    fmt: str,
    level: str,
    round_: str | None,
    weights: tuple[str, ...],
    framework: Path | None,
    output: Path | None,
    lang: str | None,
) -> None:
    """計算指標分數（0–100）：檢核項目 → 原則 → 構面 → 整體。Score answers (0–100)."""

    given = [entry.partition("=")[0].strip() for entry in weights]
    twice = sorted({key for key in given if given.count(key) > 1})
    if twice:
        raise GuidekitError(
            f"--weight given more than once for {', '.join(twice)}: give each weight once",
            zh=f"--weight 對 {'、'.join(twice)} 給了不只一次：每個權重只給一次",
        )
    parsed: dict[str, float] = {}
    for entry in weights:
        key, sep, value = entry.partition("=")
        try:
            float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise GuidekitError(
                f"--weight {entry!r}: expected ID=number, e.g. P08=2",
                zh=f"--weight {entry!r}：格式應為 代碼=數字，例如 P08=2",
            )
        parsed[key.strip()] = check_weight(value, f"--weight {entry}", f"--weight {entry}")
    if output is not None:
        _check_score_output(output, fmt, paths)
    responses = read_responses(list(paths), framework)
    lang = _lang(click.get_current_context(), lang)
    for problem in responses.problems:  # warnings (errors raise): never a silent clean-up
        _echo(problem.format(lang), err=True)
    if round_ is not None:
        frame = responses.frame[responses.frame["round"] == round_].reset_index(drop=True)
        if frame.empty:
            raise GuidekitError(
                f"round {round_!r} is not in the answers", zh=f"填答中沒有評估回合 {round_!r}"
            )
        import dataclasses

        responses = dataclasses.replace(responses, frame=frame)
    result = scoring.score(responses, parsed or None)
    table = {
        "overall": result.overall,
        "dimension": result.dimensions,
        "principle": result.principles,
        "item": result.items,
    }[level]
    if fmt == "csv":
        text = table.to_csv(index=False)
    else:
        text = table.to_json(orient="records", force_ascii=False, indent=2) + "\n"
        if not output and not console_holds(text):  # valid JSON whatever the console holds
            text = console_json(json.loads(text)) + "\n"
    if output:
        if fmt == "csv":  # a file for Excel: BOM, and no cell that Excel would run as a formula
            write_output(output, table_csv(table))
        else:
            write_output(output, text, "utf-8")
        _say(lang, f"已寫入 {output}", f"wrote {output}", err=True)
    else:
        # exact data when piped; control characters made visible on a terminal
        click.echo(printable(text) if sys.stdout.isatty() else text, nl=False)


def _check_score_output(output: Path, fmt: str, paths: tuple[Path, ...]) -> None:
    """Refuse an -o that would overwrite an answer file, land among them, lie about its
    format, or replace a file guidekit did not write (:func:`guidekit.files.check_target`)."""

    if output.is_dir():
        raise GuidekitError(
            f"-o {output} is a folder; give a file name", zh=f"-o {output} 是資料夾，請給檔名"
        )
    suffixes = {"csv": (".csv", ".txt"), "json": (".json",)}[fmt]
    if output.suffix.lower() not in suffixes:
        raise GuidekitError(
            f"-o {output}: --format {fmt} writes {' or '.join(suffixes)} files "
            f"(a {output.suffix or 'suffix-less'} file would not open as one); "
            "CSV opens in Excel and LibreOffice",
            zh=f"-o {output}：--format {fmt} 寫出的是 {' 或 '.join(suffixes)} 檔"
            f"（副檔名 {output.suffix or '（無）'} 會讓試算表軟體誤判格式）；CSV 可用 Excel 或 LibreOffice 開啟",
        )
    target = output.resolve()
    for path in paths:
        if is_store_url(path):
            continue  # a database: nothing on this disk to overwrite
        source = Path(path).resolve()
        if target == source or source in target.parents:
            raise GuidekitError(
                f"-o {output} would overwrite or sit among the answers ({path}): "
                "write the scores elsewhere",
                zh=f"-o {output} 會覆寫填答檔案或放進填答資料夾（{path}）：請寫到其他位置",
            )
    check_target(output)


@main.command()
@click.option(
    "--responses",
    "responses",
    multiple=True,
    type=STORE_OR_PATH,
    help="填答檔案或資料夾（可重複；預設內附範例的最新回合）/ Answer files or folders (default: the bundled example).",
)
@click.option(
    "--out",
    type=PATH,
    default=None,
    help="輸出資料夾（預設 reports/example；自己的填答為 reports/<檔名>；英文加 -en）/ Output folder.",
)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    metavar="ID",
    help="只產製這些機關代碼（可重複；預設全部）/ Only these agency codes (repeatable).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="同時執行的程序數（預設最多 2）/ Worker processes (default: up to 2).",
)
@click.option(
    "--round", "round_", help="評估回合（預設填答中最新的回合）/ Round (default: the latest)."
)
@FRAMEWORK_OPTION
@click.option(
    "--timeout",
    type=click.IntRange(1),
    default=600,
    show_default=True,
    help="每個筆記本儲存格最多執行秒數 / Seconds a notebook cell may run.",
)
@click.option(
    "--keep-notebooks",
    is_flag=True,
    help="保留每個執行後的筆記本於 OUT/_notebooks / Keep executed notebooks.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="顯示進度列（預設：在終端機時）/ Progress bar (default: on a terminal).",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="填答有錯誤的機關列為失敗（附錯誤），其他機關照常產製報告；預設任何錯誤都停止 / "
    "List agencies whose answers have errors as failed and report the others "
    "(default: any error stops the batch).",
)
@click.option(
    "--pdf",
    is_flag=True,
    help="另將每份報告轉成可搜尋文字的 A4 PDF（需要 Chromium）/ Also write each report as a "
    "text-based A4 PDF (needs Chromium).",
)
@ACTIONS_OPTION
@click.option(
    "--previous",
    "previous",
    multiple=True,
    type=STORE_OR_PATH,
    help="上一回合的填答（判斷上一回合改善行動的結果；填答已含該回合時不需要）/ Last round's "
    "answers (to judge last round's actions; not needed when the answers hold that round).",
)
@click.option(
    "--force",
    is_flag=True,
    help="全部重新產製，即使內容來源沒有改變（預設只重做有變動的機關）/ "
    "Rebuild every report, changed or not (default: only what changed).",
)
@click.option(
    "--only-failed",
    is_flag=True,
    help="只重試前次失敗的機關 / Retry only the agencies that failed last time.",
)
@click.option(
    "--agency-timeout",
    type=click.IntRange(1),
    default=None,
    help="每個機關的報告最多執行秒數（預設不限，只限每個儲存格）/ "
    "Seconds one agency's report may run (default: no limit but --timeout per cell).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT|local",
    default=None,
    help="在 Dask 叢集上執行：排程器位址，或 local 在本機啟動（需 pip install 'guidekit[dask]'）/ "
    "Run on a Dask cluster: the scheduler's address, or local to start one here.",
)
@LANG_OPTION
@_handle_errors
def reports(
    responses: tuple[Path, ...],
    out: Path,
    agencies: tuple[str, ...],
    workers: int | None,
    round_: str | None,
    framework: Path | None,
    timeout: int,
    keep_notebooks: bool,
    progress: bool | None,
    skip_invalid: bool,
    pdf: bool,
    actions: tuple[Path, ...],
    previous: tuple[Path, ...],
    force: bool,
    only_failed: bool,
    agency_timeout: int | None,
    scheduler: str | None,
    lang: str | None,
) -> None:
    """產製各機關的 HTML 報告（可加 PDF）、索引、彙整表與執行紀錄。One self-contained HTML
    report per agency (and a PDF with --pdf), plus index.html, summary.csv and manifest.json."""

    lang = _lang(click.get_current_context(), lang)
    try:
        result = run_reports(
            responses=list(responses) or None,
            actions=list(actions) or None,
            previous=list(previous) or None,
            out=out,
            agencies=list(agencies) or None,
            workers=workers,
            lang=lang,
            framework=framework,
            round=round_,
            timeout=timeout,
            keep_notebooks=keep_notebooks,
            progress=progress,
            skip_invalid=skip_invalid,
            pdf=pdf,
            notify=lambda note: _say(lang, f"提醒：{note[0]}", f"note: {note[1]}", err=True),
            force=force,
            only_failed=only_failed,
            agency_timeout=agency_timeout,
            scheduler=scheduler,
        )
    except BatchInterrupted as exc:
        _say(lang, f"錯誤：{exc.text(lang)}", f"error: {exc.text(lang)}", err=True)
        sys.exit(exc.exit_code)
    ok = sum(r.status == "ok" and not r.reused for r in result.results)
    reused = sum(r.reused for r in result.results)
    for failed in result.failed:
        who = " ".join(part for part in (failed.agency_id, failed.agency_name) if part)
        _say(lang, f"失敗：{who}：{failed.error}", f"failed: {who}: {failed.error}", err=True)
    if result.removed:
        _say(
            lang,
            f"已移除前次產製、已過時的報告 {len(result.removed)} 份（評估回合、語言、題庫或填答不同）。",
            f"Removed {len(result.removed)} stale report(s) of an earlier run (other round, language, "
            "question bank or answers).",
            err=True,
        )
    _say_input_warnings(result.manifest, lang)
    _say(
        lang,
        f"評估回合 {result.round}：完成 {ok} 份報告、沿用前次 {reused} 份、失敗 {len(result.failed)} 份，"
        f"用時 {result.duration_s:.1f} 秒。",
        f"Round {result.round}: {ok} report(s) written, {reused} kept from the earlier run, "
        f"{len(result.failed)} failed, in {result.duration_s:.1f} s.",
    )
    _say(lang, f"索引：{result.index.resolve()}", f"Index: {result.index.resolve()}")
    _warn_fonts(lang)
    sys.exit(0 if result.ok else 1)


def _say_input_warnings(manifest: Path, lang: str, shown: int = 10) -> None:
    """The answers' warnings (clean-ups, look-alike services, 1/0 codes) on the terminal:
    the first ``shown`` and where the others are (they are all in the manifest)."""
    try:
        warnings = json.loads(manifest.read_text(encoding="utf-8")).get("input_warnings", [])
    except (OSError, ValueError):
        return
    if not warnings:
        return
    _say(
        lang,
        f"填答資料有 {len(warnings)} 項提醒（全部列於 {manifest} 的 input_warnings；"
        "guidekit validate 也會列出）：",
        f"the answers have {len(warnings)} warning(s) (all in input_warnings of {manifest}; "
        "guidekit validate lists them too):",
        err=True,
    )
    for line in warnings[:shown]:
        _echo("  " + line, err=True)
    if len(warnings) > shown:
        _echo("  …", err=True)


def _warn_fonts(lang: str) -> None:
    """Say so when this machine has no CJK font (reports would show boxes in its browser)."""

    if has_cjk_font() is False:
        _say(
            lang,
            "提醒：本機找不到中文字型，瀏覽器可能以方框顯示中文。Debian/Ubuntu 請安裝 fonts-noto-cjk。",
            "note: no CJK font found on this machine; a browser here may show boxes for Chinese. "
            "On Debian/Ubuntu install fonts-noto-cjk.",
            err=True,
        )


@main.command(name="framework")
@click.argument("folder", required=False, type=PATH)
@LANG_OPTION
@_handle_errors
def framework_cmd(folder: Path | None, lang: str | None) -> None:
    """檢查題庫資料夾並摘要。Check a framework folder and summarise it."""

    lang = _lang(click.get_current_context(), lang)
    fw = load_framework(folder)
    _say(
        lang,
        f"{fw.meta.title_zh}（{fw.id}）題庫版本 {fw.version}",
        f"{fw.meta.title_en} ({fw.id}) version {fw.version}",
    )
    _say(
        lang,
        f"原則 {len(fw.principles)} 項；構面 {len(fw.dimensions)} 個；配套措施 {len(fw.measures)} 項",
        f"{len(fw.principles)} principles; {len(fw.dimensions)} dimensions; {len(fw.measures)} measures",
    )
    for inst in fw.instruments:
        n = len(fw.items[inst.id])
        majors = sum(i.major for i in fw.items[inst.id])
        _say(
            lang,
            f"  {inst.id}：{inst.title_zh}，{n} 個檢核項目（大項 {majors}）",
            f"  {inst.id}: {inst.title_en}, {n} check items ({majors} major)",
        )


@main.command(name="export")
@click.option(
    "--responses",
    "responses",
    multiple=True,
    type=STORE_OR_PATH,
    help="填答檔案或資料夾（可重複；預設內附範例的所有回合）/ Answer files or folders.",
)
@click.option("--round", "round_", help="只匯出此評估回合（預設全部）/ Only this round.")
@click.option(
    "--out",
    type=PATH,
    required=True,
    help="資料包的輸出資料夾 / Output folder for the data package.",
)
@FRAMEWORK_OPTION
@click.option(
    "--licence",
    default="OGDL-Taiwan-1.0",
    show_default=True,
    type=click.Choice(["OGDL-Taiwan-1.0", "CC-BY-4.0", "CC0-1.0"]),
    help="資料包的授權 / Licence of the package.",
)
@click.option(
    "--min-group",
    type=click.IntRange(5),
    default=5,
    show_default=True,
    help="公開項目層級資料（個別答案、各項目結果）所需的最少填答人數 / Smallest respondent group "
    "published at item level.",
)
@ACTIONS_OPTION
@LANG_OPTION
@_handle_errors
def export_cmd(
    responses: tuple[Path, ...],
    round_: str | None,
    out: Path,
    framework: Path | None,
    licence: str,
    min_group: int,
    actions: tuple[Path, ...],
    lang: str | None,
) -> None:
    """匯出開放資料（Frictionless Data Package）。Write scores and pseudonymised answers
    as a Frictionless Data Package (open data).

    Respondents become random labels; item-level data (answers, item results) of
    assessments with fewer than --min-group respondents, and all notes, are left
    out; agency scores are public by design (see guidekit.research.opendata).  An existing
    folder must be empty or hold a package written by guidekit: only that
    package's files are replaced, other files stay.
    """

    lang = _lang(click.get_current_context(), lang)
    data = load(list(responses) or None, framework)
    if actions or not responses:  # the bundled example brings its own actions
        listed = load_actions(list(actions) or None, data.framework)
    else:
        listed = []
    result = export_package(
        data,
        out,
        round=round_,
        min_group=min_group,
        licence=licence,
        actions=listed,
    )
    rows = [f"{k} {v}" for k, v in result.resources.items()]
    _say(
        lang,
        f"已寫入 {result.descriptor}（{'、'.join(rows)} 列）",
        f"wrote {result.descriptor} ({', '.join(rows)} rows)",
    )
    _say(
        lang,
        f"填答人數少於 {min_group} 的評估不公開項目層級資料（個別答案、各項目結果）："
        f"{result.suppressed_groups} 個；機關分數依設計公開；說明欄未匯出。",
        f"assessments with fewer than {min_group} respondents (item-level data withheld): "
        f"{result.suppressed_groups}; agency scores are public by design; notes not exported.",
    )
    if result.escaped_cells:
        _say(
            lang,
            f"以 = + - @ 開頭的文字加上單引號，避免試算表執行公式：{result.escaped_cells} 格。",
            f"text starting like a spreadsheet formula got a leading apostrophe: "
            f"{result.escaped_cells} cells.",
        )
    if result.removed:
        _say(
            lang,
            f"已移除先前資料包中不再產生的檔案：{'、'.join(result.removed)}",
            f"removed files of the previous package that are no longer written: "
            f"{', '.join(result.removed)}",
        )
    if result.kept:
        _say(
            lang,
            f"資料夾中的其他檔案未更動：{'、'.join(result.kept)}",
            f"other files in the folder left untouched: {', '.join(result.kept)}",
        )
    if not result.valid:
        for error in result.errors:
            click.echo(error, err=True)
        _say(
            lang,
            "資料包未通過 frictionless 驗證。",
            "the package failed frictionless validation.",
            err=True,
        )
        sys.exit(1)
    _say(lang, "frictionless 驗證通過。", "frictionless validation passed.")


@main.command(name="workshop")
@click.option(
    "--store",
    type=STORE_OR_PATH,
    default=None,
    help="答案儲存檔（SQLite 檔案或 postgresql:// 資料庫；預設 $GUIDEKIT_STORE 或使用者資料夾的 "
    "workshop.sqlite）/ Answer store (an SQLite file or a postgresql:// database).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="監聽位址；127.0.0.1 以外一律需要 token（自動產生並印在網址中）/ Address to listen on; any "
    "other than 127.0.0.1 requires a token.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8866,
    show_default=True,
    help="連接埠（0：自動選擇）/ Port (0: any free port).",
)
@LANG_OPTION
@_handle_errors
def workshop_cmd(store: Path | None, host: str, port: int, lang: str | None) -> None:
    """在瀏覽器開啟自評工作坊（Voilà，不顯示程式碼）。Serve the self-assessment workshop.

    Prints the address, the facilitator key (the facilitator view needs it; give it to
    the facilitator only) and where the logs are; answers are saved to the store as
    they change.  Use one store per workshop.  Ctrl+C stops.
    """

    lang = _lang(click.get_current_context(), lang)
    sys.exit(
        serve(store=store, host=host, port=port, lang=lang, say=lambda zh, en: _say(lang, zh, en))
    )


@main.command(name="backup")
@click.argument("store", type=STORE_OR_PATH)
@click.argument("target", type=STORE_OR_PATH)
@LANG_OPTION
@_handle_errors
def backup_cmd(store: Path | str, target: Path | str, lang: str | None) -> None:
    """把答案儲存檔完整複製到新的儲存位置（工作坊進行中也可以）。Copy a workshop answer store,
    every saved answer included, into a new store (also while the workshop runs).

    STORE and TARGET are each an SQLite file or a postgresql:// database, so this
    also moves a store from a laptop to a shared server and back.  STORE is only read
    (answers still in its -wal file included).  TARGET is never overwritten: an
    existing file (or its -wal, -shm, -journal file), or a database store that holds
    answers, is refused (exit status 2).  The rows reported are counted in TARGET.
    """

    lang = _lang(click.get_current_context(), lang)
    backed_up = copy_store(store, target)
    values = {
        "store": mask_url(str(store)),
        "target": mask_url(str(backed_up.path)),
        "rows": backed_up.rows,
    }
    _say(lang, i18n.t("backup.done", "zh-TW", **values), i18n.t("backup.done", "en", **values))


if __name__ == "__main__":  # pragma: no cover
    main()


# -- issue 10: agency forms ----------------------------------------------------------------


@main.command(name="form")
@click.option("--agency", "agency_id", metavar="ID", help="機關代碼 / Agency code.")
@click.option(
    "--agency-name", help="機關名稱（預設取自機關名冊）/ Agency name (default: from the register)."
)
@click.option("--all", "all_", is_flag=True, help="名冊中每個機關一份 / One form per agency.")
@click.option(
    "--agencies",
    "register",
    type=PATH,
    help="機關名冊 CSV，或每行一個機關代碼的 .txt（預設內附名冊）/ Register CSV or a .txt list of codes.",
)
@click.option(
    "--instrument",
    default="service",
    show_default=True,
    help="plan（附件1）或 service（附件2）/ plan (annex 1) or service (annex 2).",
)
@click.option("--round", "round_", help="評估回合（預設今年）/ Round (default: this year).")
@click.option("--service", default="", help="服務／計畫名稱（選填）/ Service or plan name.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=None, help="預設 ods / Default ods."
)
@click.option(
    "--respondents",
    type=click.IntRange(1, 30),
    default=3,
    show_default=True,
    help="空白填答者工作表數 / Blank respondent sheets.",
)
@click.option(
    "--from",
    "source",
    type=PATH,
    help="以先前的答案預先填入（填答檔、資料夾、工作坊儲存檔或自評表）/ Pre-fill from earlier answers.",
)
@click.option(
    "--actions",
    "actions_from",
    multiple=True,
    type=STORE_OR_PATH,
    help="改善行動檔案、資料夾或儲存檔：上一回合尚未完成的行動列在「改善行動」工作表（可重複）/ "
    "Improvement actions: earlier rounds' open ones are listed on the Actions sheet.",
)
@click.option("--out", type=PATH, required=True, help="檔案或資料夾 / File or folder.")
@FRAMEWORK_OPTION
@LANG_OPTION
@_handle_errors
def form_cmd(
    agency_id: str | None,
    agency_name: str | None,
    all_: bool,
    register: Path | None,
    instrument: str,
    round_: str | None,
    service: str,
    fmt: str | None,
    respondents: int,
    source: Path | None,
    actions_from: tuple[Path, ...],
    out: Path,
    framework: Path | None,
    lang: str | None,
) -> None:
    """產生可填寫的自評表（.ods 預設，或 .xlsx）。A fillable self-assessment form per agency."""
    lang = _lang(click.get_current_context(), lang)
    fw = load_framework(framework)
    if not fw.has_instrument(instrument):
        choices = ", ".join(i.id for i in fw.instruments)
        raise GuidekitError(
            f"unknown instrument {instrument!r}: use {choices}",
            zh=f"沒有自評表 {instrument!r}；應為 {choices}",
        )
    round_ = round_ or str(i18n.today().year)
    table = _form_agencies(register)
    prefill = read_responses(source, fw).frame if source is not None else None
    actions = read_actions(list(actions_from), fw).actions if actions_from else []
    started = time.perf_counter()
    if all_:
        fmt = fmt or "ods"
        written = write_forms(
            out,
            fw,
            table,
            round=round_,
            instrument=instrument,
            lang=lang,
            fmt=fmt,
            respondents=respondents,
            prefill=prefill,
            actions=actions,
            stems={
                a: n.removesuffix(".html") for a, n in report_filenames(table["agency_id"]).items()
            },
        )
        _echo(
            i18n.t(
                "form.written",
                lang,
                n=len(written),
                path=out,
                seconds=time.perf_counter() - started,
            )
        )
        return
    if not agency_id:
        raise click.UsageError("--agency ID or --all")
    agency_id = agency_id.strip()
    if agency_name is None:
        found = table[table["agency_id"] == agency_id]
        if found.empty:
            raise GuidekitError(
                i18n.t("form.unknown_agency", "en", agency_id=agency_id),
                zh=i18n.t("form.unknown_agency", "zh-TW", agency_id=agency_id),
            )
        row = found.iloc[0]
        agency_name = (row["name_en"] if lang == "en" else "") or row["name_zh"]
    rows = None
    if source is not None:
        rows, prev = prefill_rows(source, fw, agency_id, instrument, service)
        if rows.empty:
            _echo(
                i18n.t(
                    "form.prefill_none",
                    lang,
                    path=source,
                    agency_id=agency_id,
                    instrument=instrument,
                ),
                err=True,
            )
            rows = None
        else:
            service = service or str(rows["service"].iloc[0] or "")
            _echo(
                i18n.t(
                    "form.prefill",
                    lang,
                    path=source,
                    round=prev,
                    n=int(rows["answer"].notna().sum()),
                    respondents=rows["respondent"].nunique(),
                ),
                err=True,
            )
    if actions and not service:
        # the open actions name their service: a form without one would list none of them
        services = sorted(
            {
                a.service
                for a in actions
                if a.agency_id == agency_id and a.instrument == instrument and a.status.is_open
            }
        )
        if len(services) == 1:
            service = services[0]
            _echo(i18n.t("form.actions_service", lang, service=service), err=True)
        elif len(services) > 1:
            shown = "、".join(f"「{s}」" for s in services)
            _echo(i18n.t("form.actions_services", lang, services=shown), err=True)
    fmt = fmt or (
        out.suffix.lower().lstrip(".") if out.suffix.lower() in (".ods", ".xlsx") else "ods"
    )
    if out.is_dir() or not out.suffix:  # a folder: the form is named after the agency
        stem = report_filenames([agency_id])[agency_id].removesuffix(".html")
        out = out / f"{stem}.{fmt}"
    written = write_form(
        out,
        fw,
        agency_id=agency_id,
        agency_name=agency_name,
        round=round_,
        instrument=instrument,
        service=service,
        lang=lang,
        fmt=fmt,
        respondents=respondents,
        prefill=rows,
        actions=actions,
    )
    inst = fw.instrument(instrument)
    _echo(
        i18n.t(
            "form.written_one",
            lang,
            path=written.path,
            agency=agency_name,
            agency_id=agency_id,
            round=round_,
            instrument=inst.title_en if lang == "en" else inst.title_zh,
            sheets=written.respondent_sheets,
        )
    )


def _form_agencies(register: Path | None) -> Any:
    """The agencies to make forms for: a register CSV, or a .txt list of codes (one a line,
    UTF-8) looked up in the bundled register."""
    if register is None or register.suffix.lower() != ".txt":
        return agency_register(register)
    table = agency_register()
    codes = [
        line.strip()
        for line in register.read_text(encoding="utf-8-sig").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    unknown = [c for c in codes if c not in set(table["agency_id"])]
    if unknown:
        raise GuidekitError(
            i18n.t("form.unknown_agency", "en", agency_id=", ".join(unknown)),
            zh=i18n.t("form.unknown_agency", "zh-TW", agency_id="、".join(unknown)),
        )
    return table.set_index("agency_id").loc[codes].reset_index()


@main.command(name="intake")
@click.argument("paths", nargs=-1, required=True, type=PATH)
@click.option(
    "--round", "round_", help="只接受這個評估回合的自評表 / Accept forms of this round only."
)
@click.option(
    "--instrument",
    default=None,
    help="只接受這份自評表（plan／service）/ Accept this instrument only.",
)
@FRAMEWORK_OPTION
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@LANG_OPTION
@_handle_errors
def intake_cmd(
    paths: tuple[Path, ...],
    round_: str | None,
    instrument: str | None,
    framework: Path | None,
    fmt: str,
    lang: str | None,
) -> None:
    """寄回的自評表與填答檔逐檔狀態：接受，或列出要請機關修正的問題。Per-file status of returned
    forms and answer files; exit 1 when any file is refused."""
    lang = _lang(click.get_current_context(), lang)
    expect = {"round": round_, "instrument": instrument}
    report = with_actions(validate_responses(list(paths), framework, expect=expect), framework)
    statuses = file_status(list(paths), report)
    placed = {s.file for s in statuses}
    stray = [p for p in report.errors if p.file not in placed]
    if fmt == "json":
        click.echo(
            console_json(
                [
                    {
                        "file": s.file,
                        "accepted": s.accepted,
                        "agencies": s.agencies,
                        "respondents": s.respondents,
                        "agreed": s.agreed,
                        "answers": s.answers,
                        "errors": [p.to_dict(lang) for p in s.errors],
                        "warnings": [p.to_dict(lang) for p in s.warnings],
                    }
                    for s in statuses
                ],
            )
        )
    else:
        _echo(i18n.t("intake.head", lang))
        for s in statuses:
            status = i18n.t("intake.accepted" if s.accepted else "intake.refused", lang)
            people = str(s.respondents) + (i18n.t("intake.agreed", lang) if s.agreed else "")
            who = "、".join(s.agencies) if lang != "en" else ", ".join(s.agencies)
            _echo(f"{s.file}\t{status}\t{who or '-'}\t{people}\t{s.answers}")
        refused = [s for s in statuses if not s.accepted]
        _echo("")
        _echo(
            i18n.t(
                "intake.summary",
                lang,
                n=len(statuses),
                ok=len(statuses) - len(refused),
                bad=len(refused),
            )
        )
        for s in refused:
            _echo(i18n.t("intake.file_problems", lang, file=s.file, n=len(s.errors)))
            for problem in s.errors:
                _echo("  " + problem.format(lang))
            if not s.errors:
                _echo("  " + i18n.t("intake.empty", lang))
        for problem in stray:
            _echo(problem.format(lang))
    sys.exit(0 if report.ok and all(s.accepted for s in statuses) else 1)
