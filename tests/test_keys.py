"""Key: secret-safe by construction."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byok_client import ByokConfigError, Key
from byok_client.core.keys import coerce_keys

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
        ("sk-abc\nX-Evil: 1", "contains whitespace (character 7)"),
        ("sk-\x00abc", "contains a control character (character 4)"),
        ("sk-\x7fabc", "contains a control character (character 4)"),
        ("sk-caf\u00e9-123", "contains a non-ASCII character (character 7)"),
        ("sk-\u0430bc-123", "contains a non-ASCII character (character 4)"),  # Cyrillic a
        ("sk-abc\u200b123", "contains a non-ASCII character (character 7)"),  # zero-width space
        ("sk-abc\u00a0123", "contains non-ASCII whitespace (character 7)"),
        ("sk-\ud800abc", "contains a non-ASCII character (character 4)"),  # a lone surrogate
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


# -- coerce_keys: a whole api_keys argument -------------------------------------------------------------------------


def test_coerce_keys_keeps_order_strips_and_passes_keys_through() -> None:
    labelled = Key("sk-two", "two")
    keys = coerce_keys(["  sk-one\n", labelled, "sk-three"])
    assert [k.get_secret_value() for k in keys] == ["sk-one", "sk-two", "sk-three"]
    assert keys[1] is labelled
    assert coerce_keys(iter(("sk-a", "sk-b"))) == [Key("sk-a"), Key("sk-b")]
    assert coerce_keys([]) == []


def test_coerce_keys_reuses_existing_keys_for_plain_strings() -> None:
    old = Key("sk-old", "team-a")
    keys = coerce_keys(["sk-old", "sk-new"], existing=[old])
    assert keys[0] is old and keys[0].label == "team-a"
    assert keys[1].label == f"key-{keys[1].fingerprint}"
    relabelled = Key("sk-old", "renamed")
    assert coerce_keys([relabelled], existing=[old])[0] is relabelled  # a Key given keeps its own label


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (SECRET, "api_keys must be a list of keys, not a single str"),
        (Key(SECRET), "api_keys must be a list of keys, not a single Key"),
        (SECRET.encode(), "api_keys must be a list or tuple of str or Key, not bytes"),
        (bytearray(SECRET.encode()), "not bytearray"),
        ({SECRET: "x"}, "not dict"),
        ({SECRET}, "not set"),
        (frozenset({SECRET}), "not frozenset"),
        (12345, "not int"),
        (None, "not NoneType"),
        (["sk-a", "sk-b", SECRET.encode()], "key #3 must be a str or Key, not bytes"),
        (["sk-a", None], "key #2 must be a str or Key, not NoneType"),
        ([12345678], "key #1 must be a str or Key, not int"),
        ([["sk-a"]], "key #1 must be a str or Key, not list"),
        (["sk-a", "   "], "key #2 is empty"),
        (["sk-a", ""], "key #2 is empty"),
        (["sk-a", f"{SECRET} tail"], "key #2 contains whitespace (character 31)"),
        ([f"{SECRET}\u200b"], "key #1 contains a non-ASCII character (character 31)"),
        ([SECRET, "sk-b", f" {SECRET} "], "duplicates key #1"),
        ([Key(SECRET, "a"), Key(SECRET, "b")], "key #2 (b) duplicates key #1"),
    ],
)
def test_coerce_keys_refuses_bad_arguments_without_the_value(argument: object, message: str) -> None:
    with pytest.raises(ByokConfigError) as info:
        coerce_keys(argument)
    assert message in str(info.value)
    assert "SECRETVALUE" not in str(info.value)


PRINTABLE_ASCII = "".join(chr(c) for c in range(33, 127))
MARK_BEFORE, MARK_AFTER = "Q7xZ9kP2", "W3vK8mR4"


def _valid(value: str) -> bool:
    return bool(value) and all(c in PRINTABLE_ASCII for c in value)


@pytest.mark.shows_keys  # generated values collide with ordinary log text ("complete"); the test checks quoting itself
@settings(max_examples=500)
@given(text=st.text())
def test_any_text_is_a_key_or_an_error_that_does_not_quote_it(text: str) -> None:
    try:
        key = Key(text)
    except ByokConfigError as exc:
        assert not _valid(text)
        if len(text) >= 8:  # shorter texts may be a word of the message by chance
            assert text not in str(exc)
    else:
        assert _valid(text)
        assert key.get_secret_value() == text
    # the same text inside a long value: no part of the value ever shows in the message
    value = MARK_BEFORE + text + MARK_AFTER
    try:
        [key] = coerce_keys([value])
    except ByokConfigError as exc:
        assert not _valid(value.strip())
        assert MARK_BEFORE not in str(exc) and MARK_AFTER not in str(exc)
        assert "key #1 " in str(exc)
    else:
        assert _valid(value.strip()) and key.get_secret_value() == value.strip()


@settings(max_examples=200)
@given(items=st.lists(st.one_of(st.text(alphabet=PRINTABLE_ASCII, min_size=1, max_size=6), st.binary(), st.none())))
def test_coerce_keys_over_mixed_lists(items: list[object]) -> None:
    try:
        keys = coerce_keys(items)
    except ByokConfigError as exc:
        message = str(exc)
        assert message.startswith("key #")
        position = int(message.split()[1][1:])
        bad = items[position - 1]
        earlier = [i for i in items[: position - 1] if isinstance(i, str)]
        assert not isinstance(bad, str) or bad in earlier  # a wrong type, or a duplicate
    else:
        assert [k.get_secret_value() for k in keys] == items
