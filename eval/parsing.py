"""Shared answer parsers: option letters, yes/no, numbers.

Each function re-states one published extraction rule (the source is named in its docstring; the rules are
described in ../shared/spec/eval-closed.md §0.4 and per benchmark). Benchmarks pick the rule their official or
reference scorer uses; the `authors_*` variants reproduce the TroL/Phantom evaluator for `--scoring authors`.
All parsers take the raw decoded text (already whitespace-stripped by the runner, as the authors'
`output_filtering` does) and never raise.
"""
from __future__ import annotations

import re
import string
from typing import Mapping, Sequence

LETTERS = string.ascii_uppercase


def option_letters(n: int) -> list[str]:
    """The first `n` option letters: A, B, C, ..."""
    return list(LETTERS[:n])


def choices_dict(options: Sequence[object]) -> dict[str, str]:
    """Options as VLMEvalKit's `choices` dict: letter -> option text (A, B, ... in order)."""
    return {LETTERS[i]: str(o) for i, o in enumerate(options)}


# --- VLMEvalKit exact matching (open-compass/VLMEvalKit@e8e78f0 vlmeval/utils/matching_util.py) -------------

_VLMEVAL_REJECTIONS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_VLMEVAL_PUNCT = ".()[],:;!*#{}"
_VLMEVAL_ANSWER_IS = re.compile(r"(?:correct\s+)?answer\s+is\s+\**([ABCD])\**", re.IGNORECASE)


def vlmeval_infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    """`can_infer_option`: a choice letter standing as a token near the end of the text, `Z` for refusals."""
    if "Failed to obtain answer via API" in answer:
        return None
    if any(reject in answer for reject in _VLMEVAL_REJECTIONS):
        return "Z"
    text = answer
    for ch in _VLMEVAL_PUNCT:
        text = text.replace(ch, " ")
    tokens = text.split()
    present = [letter for letter in choices if letter in tokens]
    if len(present) == 1:
        letter = present[0]
        # Only accepted when its first occurrence is one of the last four tokens.
        if tokens.index(letter) > len(tokens) - 5:
            return letter
    elif not present and tokens.count("Z") == 1:
        return "Z"
    match = _VLMEVAL_ANSWER_IS.search(answer)
    if match and match.group(1).upper() in choices:
        return match.group(1).upper()
    return None


def vlmeval_infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """`can_infer_text`: exactly one option text occurs (case-insensitive) in a not-too-long answer."""
    lowered = answer.lower()
    if len(lowered) > 2 * sum(len(str(v)) for v in choices.values()):
        return None
    hits = [letter for letter, text in choices.items() if str(text).lower() in lowered]
    return hits[0] if len(hits) == 1 else None


def vlmeval_can_infer(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit `can_infer`: the option letter (or `Z`), None when nothing can be extracted."""
    answer = str(answer)
    return vlmeval_infer_option(answer, choices) or vlmeval_infer_text(answer, choices)


# --- letter rules of LLaVA and of the authors ---------------------------------------------------------------

_THE_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")


def llava_sqa_letter(text: str) -> str | None:
    """LLaVA `eval_science_qa.py`: `A`-`E`, or `X. ...`, or exactly one `The answer is X.`; else None."""
    options = "ABCDE"
    if text in options and len(text) == 1:
        return text
    if len(text) >= 3 and text[0] in options and text[1:3] == ". ":
        return text[0]
    found = _THE_ANSWER_IS.findall(text)
    return found[0] if len(found) == 1 else None


def authors_convert_to_choice(text: str, n_candidates: int) -> int:
    """TroL/Phantom `convert_to_choice`: option index, or -1 when unparsed or out of range."""
    options = "ABCDE"
    letter: str | None
    if len(text) == 1 and text in options:
        letter = text
    elif len(text) >= 2 and text[0] in options and "." in text:
        letter = text[0]
    else:
        found = _THE_ANSWER_IS.findall(text)
        letter = found[0] if len(found) == 1 else None
    if letter is None:
        return -1
    index = LETTERS.index(letter)
    return index if index < n_candidates else -1


def letter_index(letter: str | None) -> int:
    """Position of an option letter (A -> 0), -1 for None or anything else."""
    if letter and len(letter) == 1 and letter in LETTERS:
        return LETTERS.index(letter)
    return -1


# --- yes / no ------------------------------------------------------------------------------------------------


def pope_yes_no(text: str, lowercase: bool = False) -> str:
    """RUCAIBox/POPE `evaluate.py` (= LLaVA `eval_pope.py`): first sentence, commas dropped, split on single
    spaces; `no` if `No`, `no` or `not` is a word, else `yes` (empty text is yes). `lowercase=True` is the
    TroL/Phantom variant, which lower-cases first."""
    if lowercase:
        text = text.lower()
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def mme_yes_no(text: str) -> str:
    """MME `eval_tool/calculation.py` `parse_pred_ans` on the lower-cased text: `yes`/`no` exactly, else the
    first four characters containing `yes`, then `no`; else `other`."""
    text = text.lower()
    if text in ("yes", "no"):
        return text
    prefix = text[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"


_VQA_PUNCT = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
# VLMEvalKit's pattern, kept as published: `(?!<=\d)` is a look-ahead (a look-behind was meant).
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")


def vqa_process_punctuation(text: str) -> str:
    """VLMEvalKit `process_punctuation` (from the VQA evaluation code)."""
    out = text
    for p in _VQA_PUNCT:
        if (p + " " in text or " " + p in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    # VLMEvalKit passes re.UNICODE (= 32) as the positional `count` argument of `sub`: at most 32 periods go.
    return _PERIOD_STRIP.sub("", out, count=int(re.UNICODE))


def vlmeval_yes_no(text: str) -> str:
    """VLMEvalKit `YOrN_Extraction`: `Yes` if the word yes occurs and no does not, `No` for the opposite,
    else `Unknown`."""
    words = vqa_process_punctuation(text.lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"


# --- numbers -------------------------------------------------------------------------------------------------


def to_float(text: str, percent_as_fraction: bool = True) -> float | None:
    """pix2struct `_to_float`: a trailing `%` divides by 100 (not in the authors' second definition, selected
    with `percent_as_fraction=False`); None when Python's `float` rejects the text (e.g. `1,234`)."""
    try:
        if text.endswith("%"):
            value = float(text.rstrip("%"))
            return value / 100.0 if percent_as_fraction else value
        return float(text)
    except ValueError:
        return None


def relaxed_correctness(target: str, prediction: str, max_relative_change: float = 0.05,
                        percent_as_fraction: bool = True) -> bool:
    """pix2struct `relaxed_correctness(target, prediction)`: numbers within 5% of a non-zero target, otherwise
    case-insensitive exact match. No stripping (the official code strips nothing)."""
    p = to_float(prediction, percent_as_fraction)
    t = to_float(target, percent_as_fraction)
    if p is not None and t:
        return abs(p - t) / abs(t) <= max_relative_change
    return prediction.lower() == target.lower()
