"""Fixtures of the split tests."""

from __future__ import annotations

from typing import Any

import pytest

from workers.storage import Storage


@pytest.fixture
def storage(s3_client: Any) -> Storage:
    """Storage on the test S3 endpoint."""
    return Storage(client=s3_client)
