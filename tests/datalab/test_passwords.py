"""The password policy and the bcrypt hasher both halves use."""

from __future__ import annotations

import bcrypt
import pytest

from datalab.passwords import PasswordHasher, password_problem

ROUNDS = 10


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    """A hasher at the lowest cost the settings allow."""
    return PasswordHasher(ROUNDS)


@pytest.mark.parametrize(
    "password",
    [
        "Abcdefg1",
        "Aa1" + "x" * 69,  # 72 ASCII bytes
        "Correct-Horse-9",
        "Aa1 ~!@#$%^&*()_+{}|:<>?",
    ],
    ids=["8-ascii", "72-ascii", "passphrase", "printable-punctuation"],
)
def test_password_policy_accepts(password: str) -> None:
    assert password_problem(password) is None


@pytest.mark.parametrize(
    "password",
    [
        "",
        "Abcdef1",  # 7 bytes
        "Aé1éx",  # 7 bytes
        "Aa1bc" + "é" * 34,  # 73 bytes, 39 characters
        "Aa1bc" + "😀" * 17,  # 73 bytes, 22 characters
        "Aa1" + "x" * 70,  # 73 ASCII bytes
        "ABCDEFG1",
        "abcdefg1",
        "Abcdefgh",
        "Abcd\x00efg1",
        "Abcdefg1\ud800",
        "Aé1ééééé",  # printable ASCII only: the same keys give the same bytes everywhere
        "Aa1b" + "😀" * 4,
        "Abcdefg1\n",
        "Abc\tdefg1",
    ],
    ids=[
        "empty",
        "7-bytes",
        "7-bytes-multibyte",
        "73-bytes-e-acute",
        "73-bytes-emoji",
        "73-ascii",
        "no-lower",
        "no-upper",
        "no-digit",
        "nul",
        "lone-surrogate",
        "non-ascii",
        "emoji",
        "trailing-newline",
        "tab",
    ],
)
def test_password_policy_refuses(password: str) -> None:
    problem = password_problem(password)
    assert isinstance(problem, str)
    assert problem


def test_hash_verify_round_trip(hasher: PasswordHasher) -> None:
    hashed = hasher.hash("Correct-Horse-9")
    assert hashed.startswith(f"$2b${ROUNDS:02d}$")
    assert "Correct-Horse-9" not in hashed
    assert hasher.verify("Correct-Horse-9", hashed) is True


def test_hash_is_salted(hasher: PasswordHasher) -> None:
    assert hasher.hash("Correct-Horse-9") != hasher.hash("Correct-Horse-9")


def test_hash_verify_round_trip_multibyte_72_bytes(hasher: PasswordHasher) -> None:
    password = "Aa1b" + "😀" * 17
    assert hasher.verify(password, hasher.hash(password)) is True


@pytest.mark.parametrize(
    "attempt",
    ["Correct-Horse-8", "correct-horse-9", "", "Correct-Horse-9 ", "Correct-Horse-9\ud800"],
    ids=["wrong", "case", "empty", "trailing-space", "lone-surrogate"],
)
def test_verify_wrong_password_false(hasher: PasswordHasher, attempt: str) -> None:
    assert hasher.verify(attempt, hasher.hash("Correct-Horse-9")) is False


@pytest.mark.parametrize("extra", ["x", "é", "😀"])
def test_verify_over_72_bytes_false_even_if_prefix_matches(hasher: PasswordHasher, extra: str) -> None:
    # bcrypt alone reads only 72 bytes and would call these equal.
    password = "Aa1b" + "é" * 34
    assert hasher.verify(password + extra, hasher.hash(password)) is False


@pytest.mark.parametrize(
    "stored_hash",
    ["", "not-a-hash", "pbkdf2:sha256:600000$salt$0123abcd", "$2b$10$truncated", "é"],
    ids=["empty", "text", "werkzeug-hash", "truncated-bcrypt", "non-ascii"],
)
def test_verify_unusable_hash_false(hasher: PasswordHasher, stored_hash: str) -> None:
    # "Never raises": a stored hash bcrypt cannot read is a mismatch, not a crash of the login.
    assert hasher.verify("Correct-Horse-9", stored_hash) is False


def test_verify_none_hash_false(hasher: PasswordHasher) -> None:
    assert hasher.verify("Correct-Horse-9", None) is False


def test_verify_none_hash_costs_a_bcrypt_check(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same work, not a stopwatch: one bcrypt check at the same cost as for a known user.
    hashed = hasher.hash("Correct-Horse-9")
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def counted(password: bytes, stored: bytes) -> bool:
        checked.append(stored[:7])  # "$2b$10$": algorithm and cost
        return real(password, stored)

    monkeypatch.setattr(bcrypt, "checkpw", counted)
    assert hasher.verify("Wrong-Horse-9", hashed) is False
    assert hasher.verify("Wrong-Horse-9", None) is False
    assert hasher.verify("x" * 100, hashed) is False  # too long for bcrypt: still one check
    assert checked == [hashed[:7].encode()] * 3
