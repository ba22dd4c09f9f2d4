"""Shared fixtures: the i2v binary under test and the shipped photos."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def i2v():
    path = pathlib.Path(os.environ.get("I2V_BIN", ROOT / "build" / "i2v"))
    if not path.exists():
        pytest.fail(f"i2v binary not found at {path}: build first (scripts/test.sh does)")
    return str(path)


@pytest.fixture(scope="session")
def photos():
    return ROOT / "photos"
