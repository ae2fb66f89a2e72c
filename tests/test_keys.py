"""Key: secret-safe by construction."""

from __future__ import annotations

import copy
import pickle

import pytest

from byok_client import ByokConfigError, Key

SECRET = "sk-test-SECRETVALUE-0123456789"


def test_repr_str_format_show_label_or_fingerprint_never_value() -> None:
    labelled = Key(SECRET, "primary")
    anonymous = Key(SECRET)
    for text in (repr(labelled), str(labelled), f"{labelled}", repr(anonymous), str(anonymous), f"{anonymous:>40}"):
        assert SECRET not in text
        assert "SECRETVALUE" not in text
    assert str(labelled) == "primary"
    assert str(anonymous) == f"key-{anonymous.fingerprint}"
    assert len(anonymous.fingerprint) == 8


def test_value_only_through_get_secret_value() -> None:
    assert Key(SECRET).get_secret_value() == SECRET


def test_equality_and_hash_by_value_digest_not_label() -> None:
    assert Key(SECRET, "a") == Key(SECRET, "b")
    assert hash(Key(SECRET, "a")) == hash(Key(SECRET, "b"))
    assert Key(SECRET) != Key(SECRET + "x")
    assert Key(SECRET) != SECRET  # a Key is not its value
    assert len({Key(SECRET, "a"), Key(SECRET, "b")}) == 1


def test_pickle_refused_without_revealing_value() -> None:
    with pytest.raises(TypeError) as info:
        pickle.dumps(Key(SECRET, "primary"))
    assert SECRET not in str(info.value)
    assert "primary" in str(info.value)


def test_copy_returns_same_immutable_key() -> None:
    key = Key(SECRET)
    assert copy.copy(key) is key
    assert copy.deepcopy({"k": key})["k"] is key
    with pytest.raises(AttributeError):
        key.label = "x"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("sk-abc def", "whitespace"),
        ("sk-abc\nX-Evil: 1", "whitespace or control"),
        ("sk-\x00abc", "control"),
        (123, "must be a str, not int"),
        (None, "must be a str, not NoneType"),
    ],
)
def test_bad_values_are_typed_errors_without_the_value(value: object, message: str) -> None:
    with pytest.raises(ByokConfigError) as info:
        Key(value)  # type: ignore[arg-type]
    assert message in str(info.value)
    if isinstance(value, str) and value:
        assert value not in str(info.value)


def test_with_label_keeps_value() -> None:
    key = Key(SECRET).with_label("renamed")
    assert key.label == "renamed"
    assert key.get_secret_value() == SECRET
