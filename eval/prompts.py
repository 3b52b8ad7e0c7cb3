"""The authors' question suffixes and option formatting (TroL/Phantom `make_instruction`, eval-closed.md §0.2).

For the closed-form benchmarks TroL and Phantom append the same suffixes; benchmarks that only Phantom runs
(SEED-Bench-2-Plus, CV-Bench, BLINK) use Phantom's rule for every family, so `family` does not change a closed
prompt. Image placeholders are not part of the prompt: the runner prepends one `<image>` per image, as the
authors' `make_instruction` prepends `<image>` to the question.
"""
from __future__ import annotations

from typing import Sequence

from eval.parsing import LETTERS

LETTER_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
SHORT_ANSWER_SUFFIX = "\nAnswer the question using a single word or phrase."
YES_NO_SUFFIX = "\nPlease answer yes or no."
# The authors' `get_max_new_tokens`: 5 for every closed benchmark (model.md §6.4).
CLOSED_MAX_NEW_TOKENS = 5


def lettered(options: Sequence[str], sep: str = "\n") -> str:
    """`A. first<sep>B. second...`."""
    return sep.join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
