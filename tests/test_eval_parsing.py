"""The shared answer parsers on the edge cases the spec lists (eval-closed.md §0.4 and per benchmark)."""
from __future__ import annotations

import pytest

from eval.parsing import (authors_convert_to_choice, choices_dict, llava_sqa_letter, mme_yes_no, pope_yes_no,
                          relaxed_correctness, to_float, vlmeval_can_infer, vlmeval_yes_no)

CHOICES = choices_dict(["red", "blue", "green", "black"])


@pytest.mark.parametrize("text,expected", [
    ("B", "B"), ("(B)", "B"), ("The answer is C.", "C"), ("I think D", "D"),
    ("b", None),                                   # lower case is not a choice token
    ("A B", None),                                 # two letters: no option, no text match
    ("green", "C"),                                # option text
    ("Cannot determine the answer", "Z"),          # listed refusal
    ("Z", "Z"),
    ("Failed to obtain answer via API", None),
    ("A is the first letter of the alphabet, and this is long text here", None),  # letter far from the end
    ("correct answer is **B** because", "B"),      # the "answer is X" regex after the token rule
])
def test_vlmeval_can_infer(text: str, expected: str | None) -> None:
    assert vlmeval_can_infer(text, CHOICES) == expected


def test_can_infer_text_rejects_long_answers() -> None:
    long = "blue " * 20
    assert vlmeval_can_infer(long, CHOICES) is None


@pytest.mark.parametrize("text,expected", [
    ("A", "A"), ("C. metal", "C"), ("B.", None), ("The answer is B.", "B"), ("(B)", None), ("a", None),
    ("The answer is A. The answer is B.", None),
])
def test_llava_sqa_letter(text: str, expected: str | None) -> None:
    assert llava_sqa_letter(text) == expected


@pytest.mark.parametrize("text,n,expected", [
    ("B.", 3, 1), ("A dog.", 3, 0), ("D", 3, -1), ("The answer is C. Because", 4, 2), ("(B)", 3, -1), ("", 2, -1),
])
def test_authors_convert_to_choice(text: str, n: int, expected: int) -> None:
    assert authors_convert_to_choice(text, n) == expected


@pytest.mark.parametrize("text,official,authors", [
    ("Yes", "yes", "yes"), ("no.", "no", "no"), ("Not really", "yes", "no"), ("NO", "yes", "no"),
    ("", "yes", "yes"), ("nope", "yes", "yes"), ("Yes. No wait, there is not.", "yes", "yes"),
    ("There is no oven.", "no", "no"), ("No, there isn't.", "no", "no"),
])
def test_pope_yes_no(text: str, official: str, authors: str) -> None:
    assert pope_yes_no(text) == official
    assert pope_yes_no(text, lowercase=True) == authors


@pytest.mark.parametrize("text,expected", [
    ("Yes", "yes"), ("no", "no"), ("Yes, there are two.", "yes"), ("nope", "no"), ("Not sure", "no"),
    ("The answer is yes", "other"), ("", "other"), ("N/A", "other"),
])
def test_mme_yes_no(text: str, expected: str) -> None:
    assert mme_yes_no(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Yes and no.", "Unknown"), ("The eyes deceive; it was not.", "Unknown"), ("yes.", "Yes"), ("No, it is.", "No"),
    ("", "Unknown"),
])
def test_vlmeval_yes_no(text: str, expected: str) -> None:
    assert vlmeval_yes_no(text) == expected


def test_relaxed_correctness() -> None:
    assert relaxed_correctness("100", "95")                  # exactly 5% below the target
    assert not relaxed_correctness("10", "9.4")
    assert relaxed_correctness("50%", "0.5")                 # a trailing % divides by 100
    assert not relaxed_correctness("45", "45%")
    assert relaxed_correctness("Canada", "canada")
    assert relaxed_correctness("0", "0")                     # zero target: string comparison
    assert not relaxed_correctness("1234", "1,234")          # float() rejects the comma
    # The authors' swapped call: the tolerance is relative to the prediction.
    assert not relaxed_correctness("95", "100")
    assert to_float("50%", percent_as_fraction=False) == 50.0
