"""Uploaded files: a file field holds the id returned here."""

from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.responses import FileResponse

from dealcraft.access.principal import Principal
from dealcraft.api.deps import get_principal, get_workspace
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import InvalidInput, NotFound
from dealcraft.schema.service import utcnow
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/files", tags=["files"])

MAX_FILE_BYTES = 50 * 1024 * 1024
CHUNK = 1024 * 1024


def file_json(row) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "sha256": row["sha256"],
        "url": f"/api/v1/files/{row['id']}",
    }


@router.post("", status_code=201)
def upload_file(
    file: UploadFile = File(...),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Store a file (up to 50 MB); put the returned id into a file field."""
    file_id = str(uuid.uuid4())
    target = workspace.files_dir / file_id
    digest = hashlib.sha256()
    size = 0
    # Write to a temporary name first so a failed upload leaves no file behind.
    partial = target.with_suffix(".part")
    try:
        with partial.open("wb") as out:
            while chunk := file.file.read(CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise InvalidInput(
                        f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                        code="file_too_large",
                        status=413,
                        details={"field": "file"},
                    )
                digest.update(chunk)
                out.write(chunk)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    row = {
        "id": file_id,
        "name": (file.filename or "file")[:255],
        "content_type": file.content_type or "application/octet-stream",
        "size": size,
        "sha256": digest.hexdigest(),
        "created_by": principal.user_id,
        "created_at": utcnow(),
    }
    with write_transaction(workspace.engine) as conn:
        conn.execute(system.files.insert().values(row))
    return file_json(row)


@router.get("/{file_id}")
def download_file(
    file_id: str,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    with workspace.engine.connect() as conn:
        row = (
            conn.execute(sa.select(system.files).where(system.files.c.id == file_id))
            .mappings()
            .first()
        )
    path = workspace.files_dir / file_id
    if row is None or not path.exists():
        raise NotFound(f"no file with id {file_id}", code="file_not_found", details={"id": file_id})
    return FileResponse(path, media_type=row["content_type"], filename=row["name"])
