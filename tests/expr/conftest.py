from __future__ import annotations

import pytest

from .schema import Store, metadata


@pytest.fixture
def store(engine):
    metadata.create_all(engine)
    with engine.connect() as conn:
        yield Store(conn)
        conn.rollback()
