"""The floor for any Python API: FastAPI endpoints that only run SQL and return the rows.

``GET /list`` executes the exact SQL text (and parameters) that Dealcraft's record service
ran for the benchmark's list request, and returns the rows as JSON. ``POST /create`` does a
plain INSERT of the columns Dealcraft writes for one opportunity and returns the new id: no
validation, history, outbox or read-back. Both use Dealcraft's engine factory, so the driver,
connection pool and SQLite pragmas are the same as the platform's.

Served by uvicorn with one worker, like Dealcraft in the benchmark:

    DEALCRAFT_BENCH_MINIMAL_CONFIG=probe.pickle uvicorn benchmarks.minimal_app:create_app --factory
"""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from fastapi import Body, FastAPI
from starlette.responses import Response

from dealcraft.db.engine import create_engine
from dealcraft.db.tx import write_transaction

CONFIG_ENV = "DEALCRAFT_BENCH_MINIMAL_CONFIG"
STAMP_COLUMNS = ("version", "created_at", "updated_at", "created_by", "updated_by")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _json(content: Any, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(content, default=_json_default),
        status_code=status_code,
        media_type="application/json",
    )


def create_app() -> FastAPI:
    config = pickle.loads(Path(os.environ[CONFIG_ENV]).read_bytes())
    engine = create_engine(config["database_url"])
    sqlite = engine.dialect.name == "sqlite"
    list_sql: str = config["list_sql"]
    list_params: Any = config["list_params"]

    # One positional INSERT over the columns Dealcraft wrote, plus the record stamps.
    columns: list[str] = config["insert_columns"]
    mark = "?" if sqlite else "%s"
    all_columns = [*columns, *STAMP_COLUMNS]
    insert_sql = (
        f"INSERT INTO {config['table']} ({', '.join(all_columns)}) "
        f"VALUES ({', '.join(mark for _ in all_columns)}) RETURNING id"
    )
    user_id = config["user_id"]

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health")
    def health():
        return _json({"status": "ok"})

    @app.get("/list")
    def list_rows():
        with engine.connect() as conn:
            result = conn.exec_driver_sql(list_sql, list_params)
            keys = list(result.keys())
            rows = [dict(zip(keys, row, strict=True)) for row in result]
        return _json({"data": rows})

    @app.post("/create", status_code=201)
    def create_row(data: dict[str, Any] = Body(...)):
        now = datetime.now(UTC).replace(tzinfo=None)
        # SQLAlchemy stores SQLite datetimes as this text; psycopg adapts datetime itself.
        stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        params = (*(data.get(c) for c in columns), 1, stamp, stamp, user_id, user_id)
        with write_transaction(engine) as conn:
            new_id = conn.exec_driver_sql(insert_sql, params).scalar()
        return _json({"id": new_id}, status_code=201)

    return app
