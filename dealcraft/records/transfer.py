"""Import and export of records as CSV and XLSX files.

Everything goes through the record service with a principal: an import is one
``bulk_create`` call (all-or-nothing unless ``skip_bad_rows``), an export pages through
``list``. This module only turns files into rows and records into files.

Row numbers: a file's header is row 0 and its first data row is row 1, so a ``row`` in an
error is the data row; ``sheet_row`` (``row + 1``) is the row number a spreadsheet program
shows beside it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from dealcraft.access.principal import Principal
from dealcraft.db.tx import write_transaction
from dealcraft.errors import FieldError, InvalidInput, NotFound
from dealcraft.records.scoping import ScopedSchema
from dealcraft.records.service import (
    CREATED_AT,
    BulkResult,
    ImportRejected,
    RecordService,
    RowError,
)
from dealcraft.records.watermark import ExportRegistry, strip_marks
from dealcraft.schema.model import SYSTEM_COLUMNS, FieldDef, ObjectDef
from dealcraft.schema.types import handler_for

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_PAGE_SIZE = 500
MAX_IMPORT_ROWS = 200_000

# Headers read as the creation date when an import keeps it (``keep_created_at``).
CREATED_AT_HEADERS = ("created_at", "创建时间", "创建日期")

# Words a spreadsheet may use for the extra keys of a field (money's ``<name>_currency``).
KEY_SUFFIX_WORDS = {"_currency": ("currency", "币种", "货币")}

# A text cell starting like a formula is prefixed with ' in CSV exports so a spreadsheet
# program does not run it; the import strips that prefix again.
_FORMULA_START = ("=", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-][0-9 ().\-]*")

Progress = Callable[[int, int], None]


@dataclass
class ImportRowError(RowError):
    """A RowError that also names the file's column the field was read from."""

    column: str | None = None

    @property
    def sheet_row(self) -> int:
        return self.row + 1

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "column": self.column, "sheet_row": self.sheet_row}


# Reading files ---------------------------------------------------------------------------


def detect_format(path: Path, format: str | None = None) -> str:
    """The format named explicitly, or the one the file's suffix says."""
    name = (format or path.suffix.lstrip(".")).lower()
    if name not in FORMATS:
        given = format if format else (path.suffix or path.name)
        raise InvalidInput(
            f"cannot read {given!r}: files must be CSV (.csv) or Excel (.xlsx)",
            code="unsupported_format",
            details={"field": "format", "value": given, "allowed": list(FORMATS)},
        )
    return name


def read_table(path: Path, format: str | None = None) -> tuple[list[str], list[list[Any]]]:
    """The header and the data rows of a CSV or XLSX file (the first sheet of a workbook).

    Blank rows are kept as empty lists so that row numbers stay those of the file. Columns
    whose header and cells are all blank (Excel leaves many) are dropped.
    """
    path = Path(path)
    kind = detect_format(path, format)
    rows = _read_csv(path) if kind == "csv" else _read_xlsx(path)

    # The header is the first row that is not blank and not a "# ..." notice line (an
    # export's confidentiality notice comes first).
    while rows and (_blank_row(rows[0]) or _is_notice(rows[0])):
        rows.pop(0)
    if not rows:
        raise InvalidInput(
            f"{path.name} is empty: the first row must name the columns",
            code="empty_file",
            details={"field": "file", "value": path.name},
        )
    header = ["" if v is None else str(v).strip() for v in rows[0]]
    data = rows[1:]
    if len(data) > MAX_IMPORT_ROWS:
        raise InvalidInput(
            f"{path.name} has {len(data)} rows; import at most {MAX_IMPORT_ROWS} at a time",
            code="too_many_rows",
            details={"field": "file", "value": len(data), "max": MAX_IMPORT_ROWS},
        )

    # A value under a column without a name cannot be mapped; an empty unnamed column is
    # just spreadsheet padding.
    width = max([len(header), *(len(r) for r in data)])
    header += [""] * (width - len(header))
    keep = []
    for i, name in enumerate(header):
        if name:
            keep.append(i)
            continue
        used = next((n for n, r in enumerate(data, 1) if i < len(r) and not _blank(r[i])), None)
        if used is not None:
            raise InvalidInput(
                f"column {_column_letter(i)} has no name in the header row but row {used} has "
                "a value in it; name the column or delete it",
                code="unnamed_column",
                details={"field": "file", "column": _column_letter(i), "row": used},
            )
    seen: dict[str, str] = {}
    for i in keep:
        name = header[i]
        if name in seen:
            raise InvalidInput(
                f"column {name!r} appears twice (columns {seen[name]} and {_column_letter(i)})",
                code="duplicate_column",
                details={"field": "file", "column": name},
            )
        seen[name] = _column_letter(i)
    columns = [header[i] for i in keep]
    table = [[r[i] if i < len(r) else None for i in keep] if r else [] for r in data]
    return columns, table


def _read_csv(path: Path) -> list[list[Any]]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _unreadable(path, str(e)) from e
    # UTF-8 (with or without the BOM Excel writes) first, then GB18030, the encoding of
    # CSV files saved by Excel on a Chinese Windows; it is a superset of GBK and GB2312.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _unreadable(path, "the text is neither UTF-8 nor GB18030")
    if "\x00" in text:
        raise _unreadable(path, "it contains NUL bytes; is it a binary file or UTF-16 text?")
    # Comma-separated, unless the header has no comma but tabs or semicolons (Excel's
    # "Unicode text" export, or a European list separator).
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = next((d for d in ("\t", ";") if d in first_line), ",")
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as e:
        raise _unreadable(path, str(e)) from e


def _read_xlsx(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise _unreadable(path, "it is not an Excel .xlsx workbook") from e
    except Exception as e:  # openpyxl raises its own types for damaged parts
        raise _unreadable(path, f"{type(e).__name__}: {e}") from e
    try:
        if not workbook.worksheets:
            return []
        sheet = workbook.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            row = list(values)
            while row and _blank(row[-1]):
                row.pop()
            rows.append(row)
        return rows
    finally:
        workbook.close()


def _unreadable(path: Path, reason: str) -> InvalidInput:
    return InvalidInput(
        f"cannot read {path.name}: {reason}",
        code="unreadable_file",
        details={"field": "file", "value": path.name, "reason": reason},
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _is_notice(row: list[Any]) -> bool:
    first = next((v for v in row if not _blank(v)), None)
    return isinstance(first, str) and first.lstrip().startswith("#")


def _blank_row(row: list[Any]) -> bool:
    return all(_blank(v) for v in row)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# Mapping columns to fields ----------------------------------------------------------------


def normalise_header(text: str) -> str:
    """Compare headers ignoring case, width (Ａ, （）), spaces and underscores."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_]+", "", folded)


def writable_keys(obj: ObjectDef) -> dict[str, FieldDef]:
    """Every record key an import may write, with the field that owns it."""
    return {
        key: f
        for f in obj.active_fields
        if handler_for(f.type).stored
        for key in handler_for(f.type).keys(f)
    }


def read_only_names(obj: ObjectDef) -> set[str]:
    """Columns an import ignores: system columns, and computed fields by key or label.

    An export writes them (``id`` lets other files refer to a record), so an exported file
    imports again unchanged.
    """
    computed = {
        name
        for f in obj.active_fields
        if not handler_for(f.type).stored
        for name in (*handler_for(f.type).keys(f), *f.labels.values())
    }
    return set(SYSTEM_COLUMNS) | computed


def _candidates(obj: ObjectDef) -> dict[str, str]:
    """Normalised header -> key; a name beats a label, an ambiguous label matches nothing."""
    by_label: dict[str, set[str]] = {}
    for key, f in writable_keys(obj).items():
        suffix = key[len(f.name) :]
        for label in f.labels.values():
            texts = {label}
            if suffix:
                words = KEY_SUFFIX_WORDS.get(suffix, (suffix,))
                texts = {t for w in words for t in (f"{label} {w}", f"{label}({w})")}
            for text in texts:
                by_label.setdefault(normalise_header(text), set()).add(key)
    table = {text: next(iter(keys)) for text, keys in by_label.items() if len(keys) == 1}
    for key in writable_keys(obj):
        table[normalise_header(key)] = key
    return table


def suggest_mapping(obj: ObjectDef, headers: list[str]) -> dict[str, str]:
    """Column -> field key for the columns matched by field name or label (en or zh-CN).

    Columns of read-only names (``id``, computed fields) map to ``""``, meaning ignored.
    Columns matching nothing are left out; ``resolve_mapping`` refuses them.
    """
    table = _candidates(obj)
    ignored = {normalise_header(k) for k in read_only_names(obj)}
    mapping: dict[str, str] = {}
    for column in headers:
        text = normalise_header(column)
        if text in table:
            mapping[column] = table[text]
        elif text in ignored:
            mapping[column] = ""
    return mapping


def resolve_mapping(
    obj: ObjectDef, headers: list[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The mapping of every column: overrides first, then the suggestion.

    Raises ``unknown_column`` when a column matches no field (map it to ``""`` to ignore
    it), and ``duplicate_mapping`` when two columns would write the same key.
    """
    keys = writable_keys(obj)
    overrides = dict(overrides or {})
    for column, key in overrides.items():
        if column not in headers:
            raise InvalidInput(
                f"the mapping names column {column!r}, which the file does not have; "
                f"its columns are: {', '.join(headers)}",
                code="mapping_column_not_found",
                details={"field": "mapping", "column": column, "columns": headers},
            )
        if key and key not in keys:
            raise InvalidInput(
                f"cannot map column {column!r} to {key!r}: {obj.name} has no writable field "
                "of that name",
                code="mapping_field_not_found",
                details={"field": "mapping", "column": column, "value": key},
            )
    mapping = {**suggest_mapping(obj, headers), **overrides}

    unmapped = [c for c in headers if c not in mapping]
    if unmapped:
        raise InvalidInput(
            f"column {unmapped[0]!r} matches no field of {obj.name}; map it to a field "
            f"(--map '{unmapped[0]}=field') or to nothing to ignore it (--map '{unmapped[0]}=')",
            code="unknown_column",
            details={"field": "mapping", "column": unmapped[0], "unmapped": unmapped},
        )
    owners: dict[str, str] = {}
    for column in headers:
        key = mapping[column]
        if not key:
            continue
        if key in owners:
            raise InvalidInput(
                f"columns {owners[key]!r} and {column!r} both map to {key!r}; "
                "map one of them to another field or to nothing",
                code="duplicate_mapping",
                details={"field": "mapping", "column": column, "value": key},
            )
        owners[key] = column
    return {c: mapping[c] for c in headers}


# Importing -------------------------------------------------------------------------------


def cell_value(value: Any) -> Any:
    """A spreadsheet cell as a record value: None for blank, ISO text for dates and times.

    Whole floats become ints (Excel stores every number as a float, and a reference is an
    integer id).
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = strip_marks(value).strip()
        if not text:
            return None
        if text[0] == "'" and len(text) > 1 and _needs_quote(text[1:]):
            return text[1:]
        return text
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def import_file(
    records: RecordService,
    principal: Principal,
    object_name: str,
    path: Path,
    *,
    key: str | None = None,
    skip_bad_rows: bool = False,
    mapping: Mapping[str, str] | None = None,
    format: str | None = None,
    progress: Progress | None = None,
    keep_created_at: bool = False,
) -> BulkResult:
    """Import a CSV or XLSX file into ``object_name`` with one ``bulk_create``.

    A blank cell leaves the field out of the row: a new record gets the field's default,
    an existing one (matched on ``key``) keeps its value -- except a field with a default,
    which is reset until ``bulk_create`` stops applying defaults to the rows it updates.
    With ``key``, a key value that appears in more than one row is an error
    (``duplicate_key``) on every row after the first; in all-or-nothing mode these are
    reported alone, before the rows are validated. Rejected rows carry the file's data row
    number and column.

    With ``keep_created_at`` (admins only), the ``created_at`` column (or the one mapped to
    ``created_at``) sets each new record's creation date; without it that column is ignored,
    as every platform column is.
    """
    if keep_created_at:
        records.check_keep_created_at(principal, object_name)
    obj = _object(records, principal, object_name, "import")
    path = Path(path)
    headers, table = read_table(path, format)
    overrides = dict(mapping or {})
    created_column = _created_at_column(headers, overrides) if keep_created_at else None
    if created_column is not None:
        overrides[created_column] = ""  # resolved as ignored, then mapped below
    columns = resolve_mapping(obj, headers, overrides)
    if created_column is not None:
        columns[created_column] = CREATED_AT
    if key is not None and key not in columns.values() and obj.field(key) is not None:
        raise InvalidInput(
            f"cannot match rows on {key!r}: no column of the file maps to it",
            code="key_not_mapped",
            details={"field": "key", "value": key, "columns": headers},
        )
    column_of = {k: c for c, k in columns.items() if k}

    # Rows as records; blank rows are skipped but keep their numbers for the report.
    numbers: list[int] = []
    rows: list[dict[str, Any]] = []
    for number, cells in enumerate(table, start=1):
        if _blank_row(cells):
            continue
        row = {}
        for column, value in zip(headers, cells, strict=True):
            value = cell_value(value)
            if columns[column] and value is not None:
                row[columns[column]] = value
        numbers.append(number)
        rows.append(row)

    # A key value repeated within the file would create two records (or update one twice).
    duplicates = _duplicate_keys(obj, key, numbers, rows, column_of)
    if duplicates and not skip_bad_rows:
        raise ImportRejected(duplicates)
    bad = {e.row for e in duplicates}
    kept = [(n, r) for n, r in zip(numbers, rows, strict=True) if n not in bad]
    numbers, rows = [n for n, _ in kept], [r for _, r in kept]

    total = len(rows)
    if progress:
        progress(0, total)

    def renumber(errors: list[RowError]) -> list[RowError]:
        found = [
            ImportRowError(numbers[e.row - 1], e.field, e.code, e.message, column_of.get(e.field))
            for e in errors
        ]
        return sorted([*duplicates, *found], key=lambda e: e.row)

    try:
        result = records.bulk_create(
            principal,
            obj.name,
            rows,
            key=key,
            skip_bad_rows=skip_bad_rows,
            progress=(lambda done: progress(done, total)) if progress else None,
            keep_created_at=keep_created_at,
        )
    except ImportRejected as e:
        raise ImportRejected(renumber(e.rejected)) from e
    result.rejected = renumber(result.rejected)
    logger.info(
        "records imported",
        extra={
            "object": obj.name,
            "file": path.name,
            "created_count": result.created,
            "updated_count": result.updated,
            "unchanged_count": result.unchanged,
            "rejected_count": len(result.rejected),
        },
    )
    return result


def _created_at_column(headers: list[str], overrides: dict[str, str]) -> str:
    """The column holding the creation dates: the one mapped to ``created_at``, else the one
    named like it (``created_at``, ``Created at``, ``创建时间``)."""
    mapped = [c for c, k in overrides.items() if k == CREATED_AT]
    if len(mapped) > 1:
        raise InvalidInput(
            f"columns {mapped[0]!r} and {mapped[1]!r} both map to {CREATED_AT!r}; "
            "map one of them to another field or to nothing",
            code="duplicate_mapping",
            details={"field": "mapping", "column": mapped[1], "value": CREATED_AT},
        )
    if mapped:
        return mapped[0]
    names = {normalise_header(h) for h in CREATED_AT_HEADERS}
    named = [h for h in headers if normalise_header(h) in names and h not in overrides]
    if len(named) == 1:
        return named[0]
    if named:
        raise InvalidInput(
            f"columns {named[0]!r} and {named[1]!r} could both be the creation date; "
            f"map the one to keep (--map '{named[0]}={CREATED_AT}')",
            code="duplicate_mapping",
            details={"field": "mapping", "column": named[1], "value": CREATED_AT},
        )
    raise InvalidInput(
        f"keep_created_at needs a {CREATED_AT} column, and no column of the file is one; "
        f"name it {CREATED_AT} or map it (--map 'COLUMN={CREATED_AT}')",
        code="created_at_not_mapped",
        details={"field": "mapping", "value": CREATED_AT, "columns": headers},
    )


def _duplicate_keys(
    obj: ObjectDef,
    key: str | None,
    numbers: list[int],
    rows: list[dict[str, Any]],
    column_of: dict[str, str],
) -> list[RowError]:
    f = obj.field(key) if key else None
    if f is None or not handler_for(f.type).stored:
        return []  # bulk_create refuses an unusable key with its own error
    handler = handler_for(f.type)
    first_row: dict[Any, int] = {}
    errors: list[RowError] = []
    for number, row in zip(numbers, rows, strict=True):
        if f.name not in row:
            continue
        try:
            value = next(iter(handler.write(f, {f.name: row[f.name]}).values()), None)
        except FieldError:
            continue  # an invalid key is reported by the validation of the row
        if value is None:
            continue
        if value in first_row:
            errors.append(
                ImportRowError(
                    number,
                    f.name,
                    "duplicate_key",
                    f"{f.name} {value!r} also appears in row {first_row[value]}; "
                    "each row must have its own key",
                    column_of.get(f.name),
                )
            )
        else:
            first_row[value] = number
    return errors


def write_report(path: Path, rejected: list[RowError]) -> None:
    """Write the rejected rows as a CSV a spreadsheet opens (UTF-8 with BOM)."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "sheet_row", "column", "field", "code", "message"])
        for e in rejected:
            column = getattr(e, "column", None) or ""
            writer.writerow([e.row, e.row + 1, column, e.field, e.code, e.message])


# Exporting -------------------------------------------------------------------------------


def export_columns(records: RecordService, principal: Principal, obj: ObjectDef) -> list[str]:
    """``id``, then every key of the fields the principal may read, in field order."""
    scoped = ScopedSchema(records.registry.view(), records.policy, principal)
    keys = ["id"]
    for f in scoped.readable_fields(obj):
        keys.extend(handler_for(f.type).keys(f))
    return keys


def export_file(
    records: RecordService,
    principal: Principal,
    object_name: str,
    path: Path,
    *,
    where: str | None = None,
    format: str = "csv",
    progress: Progress | None = None,
    exports: ExportRegistry | None = None,
) -> int:
    """Write the records matching ``where`` to ``path``; returns how many were written.

    The header is the record keys, so the file imports again; ``id`` and computed fields
    are ignored on import. With ``exports``, the export is registered and audited, and the
    file carries a visible notice and an invisible per-row fingerprint.
    """
    kind = detect_format(Path(path), format)
    obj = _object(records, principal, object_name, "export")
    columns = export_columns(records, principal, obj)
    kinds = {key: f.type for f in obj.active_fields for key in handler_for(f.type).keys(f)}
    total = records.count(principal, obj.name, where=where) if progress else 0
    exported_ids: list[int] = []
    ticket = None

    def rows() -> Iterator[list[Any]]:
        done = 0
        cursor = None
        while True:
            page = records.list(
                principal,
                obj.name,
                where=where,
                limit=EXPORT_PAGE_SIZE,
                cursor=cursor,
                operation="export",
            )
            for record in page.data:
                exported_ids.append(record["id"])
                row = [record.get(c) for c in columns]
                yield _marked(row, columns, kinds, ticket.mark) if ticket else row
            done += len(page.data)
            if progress:
                progress(done, max(total, done))
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # The first page is fetched before the file is opened, so a bad filter leaves no file.
    stream = rows()
    first = next(stream, None)
    if exports is not None:
        with write_transaction(records.engine) as conn:
            ticket = exports.open(
                conn,
                user_id=principal.user_id,
                username=principal.username,
                object_name=obj.name,
                where=where,
                purpose=_purpose(principal),
                format=kind,
            )
        if first is not None:
            first = _marked(first, columns, kinds, ticket.mark)
    body = stream if first is None else _chain(first, stream)
    notice = ticket.notice if ticket else None
    if kind == "csv":
        count = _write_csv(Path(path), columns, body, notice)
    else:
        count = _write_xlsx(Path(path), obj, columns, kinds, body, notice)
    if exports is not None and ticket is not None:
        with write_transaction(records.engine) as conn:
            digest = exports.close(conn, ticket, Path(path), exported_ids)
            if records.audit is not None:
                records.audit.record(
                    conn,
                    action="export",
                    category="export",
                    actor_id=principal.user_id,
                    object_name=obj.name,
                    data={
                        "export_id": ticket.id,
                        "where": where,
                        "format": kind,
                        "rows": count,
                        "sha256": digest,
                    },
                    purpose=_purpose(principal),
                )
    logger.info("records exported", extra={"object": obj.name, "count": count, "format": kind})
    return count


def trace_file(exports: ExportRegistry, path: Path) -> dict[str, Any]:
    """Which export a (possibly edited, converted or cut-down) file came from."""
    kind = detect_format(Path(path))
    raw = _read_csv(Path(path)) if kind == "csv" else _read_xlsx(Path(path))
    rows = [r for r in raw if not _blank_row(r) and not _is_notice(r)]
    if not rows:
        return {"found": False, "rows": 0}
    header = [strip_marks(str(v or "")).strip() for v in rows[0]]
    return exports.trace(header, rows[1:])


TEXT_KINDS = frozenset({"text", "long_text"})


def _marked(row: list[Any], columns: list[str], kinds: dict[str, str], mark: str) -> list[Any]:
    """The row with the fingerprint appended to its first non-empty text cell."""
    for i, column in enumerate(columns):
        value = row[i]
        if kinds.get(column) in TEXT_KINDS and isinstance(value, str) and value:
            marked = list(row)
            marked[i] = value + mark
            return marked
    return row


def _purpose(principal: Principal) -> str | None:
    return next(iter(sorted(principal.purposes)), None)


def _chain(first: list[Any], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    yield first
    yield from rest


def _needs_quote(text: str) -> bool:
    """Whether a spreadsheet would treat ``text`` as a formula (a phone such as +86 is fine)."""
    if text.startswith(_FORMULA_START):
        return True
    return text[:1] in ("+", "-") and not _SIGNED_NUMBER.fullmatch(text)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def _write_csv(
    path: Path, columns: list[str], rows: Iterator[list[Any]], notice: str | None = None
) -> int:
    count = 0
    # The BOM lets Excel on Windows open Chinese text without guessing the encoding.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        if notice:
            writer.writerow([notice])
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
            count += 1
    return count


def _write_xlsx(
    path: Path,
    obj: ObjectDef,
    columns: list[str],
    kinds: dict[str, str],
    rows: Iterator[list[Any]],
    notice: str | None = None,
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(obj.name[:31])
    if notice:
        sheet.append([notice])
    sheet.append(columns)
    count = 0
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=True):
            cells.append(_xlsx_cell(WriteOnlyCell(sheet), kinds.get(column), value))
        sheet.append(cells)
        count += 1
    if notice:
        workbook.create_sheet("notice").append([notice])
    workbook.save(path)
    return count


def _xlsx_cell(cell: Any, kind: str | None, value: Any) -> Any:
    """A typed cell: real dates and numbers, and text that is never read as a formula."""
    if value is None:
        return cell
    if kind == "date" and isinstance(value, str):
        cell.value = date.fromisoformat(value)
        cell.number_format = "yyyy-mm-dd"
    elif kind == "datetime" and isinstance(value, str):
        # Stored and shown in UTC; Excel has no time zones, so the Z is dropped.
        cell.value = datetime.fromisoformat(value.rstrip("Z"))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif isinstance(value, list):
        cell.value = ";".join(str(v) for v in value)
    else:
        cell.value = value
    if isinstance(cell.value, str):
        cell.data_type = "s"  # openpyxl reads a leading = as a formula otherwise
    return cell


# Shared ----------------------------------------------------------------------------------


def _object(
    records: RecordService, principal: Principal, object_name: str, operation: str
) -> ObjectDef:
    """The object, once the principal may ``operation`` it (so the schema does not leak)."""
    obj = records.registry.view().objects.get(object_name)
    if obj is None:
        raise NotFound(
            f"no object named {object_name!r}",
            code="object_not_found",
            details={"object": object_name},
        )
    # The record service checks "import" again in bulk_create; it has no export gate of its
    # own yet, so the export operation is checked here.
    records.policy.check_operation(principal, obj, operation)
    return obj
