"""The suite's leak scanner really fails a test that logs, warns or prints a key value."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


@pytest.mark.shows_keys  # the inner run's output holds the secret on purpose
@pytest.mark.parametrize(
    ("body", "leaks"),
    [
        ('logging.getLogger("any.library").debug("sent %s", key.get_secret_value())', True),
        ('warnings.warn("bad key " + key.get_secret_value())', True),
        ("print(key.get_secret_value())", True),
        ('logging.getLogger("any.library").debug("sent %s", key)', False),  # the label is fine
    ],
    ids=["log", "warning", "print", "label-only"],
)
def test_the_scanner_catches_a_leak(pytester: pytest.Pytester, body: str, leaks: bool) -> None:
    pytester.makeconftest(CONFTEST.replace("from byok_client.testing import MockProvider", "MockProvider = None"))
    pytester.makepyfile(
        f"""
import logging, warnings
from byok_client import Key

def test_it():
    key = Key("sk-scanner-secret-value", "k0")
    {body}
"""
    )
    outcomes = pytester.runpytest_inprocess("-p", "no:cacheprovider").parseoutcomes()
    flagged = outcomes.get("failed", 0) + outcomes.get("errors", 0)
    assert (flagged > 0) is leaks, outcomes
