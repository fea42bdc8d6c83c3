"""Import and export endpoints: a CSV or XLSX file in, a file out.

The export route must be included before ``records.router``: its path
``/{object_name}/export`` would otherwise be taken for ``/{object_name}/{record_id}``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from dealcraft.access.principal import Principal
from dealcraft.api.deps import get_principal, get_workspace
from dealcraft.errors import DealcraftError, InvalidInput
from dealcraft.records import transfer
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/records", tags=["import and export"])

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_CHUNK = 1024 * 1024


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """The ``mapping`` form field: a JSON object of column -> field ("" ignores a column)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(
            f"mapping is not valid JSON: {e.msg}",
            code="invalid_mapping",
            details={"field": "mapping", "position": e.pos},
        ) from e
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(
            "mapping must be a JSON object of column names to field names, "
            'e.g. {"客户名称": "name"}',
            code="invalid_mapping",
            details={"field": "mapping"},
        )
    return value


def _save_upload(upload: UploadFile, format: str | None) -> Path:
    """Copy the upload to a temporary file named with the format's suffix."""
    kind = transfer.detect_format(Path(upload.filename or "upload"), format)
    handle, raw = tempfile.mkstemp(suffix=f".{kind}", prefix="dealcraft-import-")
    path = Path(raw)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise DealcraftError(
                        f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                        "split it or use the dealcraft import command",
                        code="payload_too_large",
                        status=413,
                        details={"field": "file", "max_bytes": MAX_UPLOAD_BYTES},
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@router.post("/{object_name}/import")
def import_records(
    object_name: str,
    file: UploadFile = File(..., description="a .csv (UTF-8 or GB18030) or .xlsx file"),
    key: str | None = Form(None, description="update records whose value of this field matches"),
    skip_bad_rows: bool = Form(False, description="import the good rows, report the bad ones"),
    mapping: str | None = Form(None, description='JSON: {"column": "field"}, "" ignores one'),
    format: str | None = Form(None, description="csv or xlsx, when the file name does not say"),
    keep_created_at: bool = Form(
        False, description="admins: new records take the file's created_at (historical data)"
    ),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
) -> Any:
    """Create (or, with ``key``, update) records from a file.

    All-or-nothing unless ``skip_bad_rows``: a bad row answers 422 ``import_rejected`` with
    every rejected row (data row number, column, field, code, message) and writes nothing.
    ``keep_created_at`` is refused with 403 ``audit_fields_not_allowed`` unless the caller
    is an admin.
    """
    overrides = parse_mapping(mapping)
    path = _save_upload(file, format)
    try:
        result = transfer.import_file(
            workspace.records,
            principal,
            object_name,
            path,
            key=key or None,
            skip_bad_rows=skip_bad_rows,
            mapping=overrides,
            format=format,
            keep_created_at=keep_created_at,
        )
    finally:
        path.unlink(missing_ok=True)
    return {**result.as_dict(), "ids": result.ids}


@router.get("/{object_name}/export")
def export_records(
    object_name: str,
    where: str | None = Query(
        None, description="a filter in the expression language", max_length=4000
    ),
    format: str = Query("csv", description="csv or xlsx"),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
) -> Any:
    """Download the records matching ``where`` as a file that imports again."""
    kind = transfer.detect_format(Path(f"export.{format}"), format)
    directory = tempfile.mkdtemp(prefix="dealcraft-export-")
    filename = f"{object_name}-{date.today().isoformat()}.{kind}"
    path = Path(directory) / filename
    try:
        transfer.export_file(
            workspace.records,
            principal,
            object_name,
            path,
            where=where,
            format=kind,
            exports=workspace.exports,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=transfer.CONTENT_TYPES[kind],
        filename=filename,
        background=BackgroundTask(shutil.rmtree, directory, ignore_errors=True),
    )
