"""VisualWebBench: seven web-page sub-tasks scored without a judge (ROUGE, WebQA F1, choice accuracy).

Prompts are VisualWebBench `utils/prompts.py` formatted as the official `run.py` does (python lists); metrics are
`utils/eval_utils.py` (spec eval-open.md section 4), with ROUGE from the `rouge==1.0.1` package those repos pin
(its numbers differ from `rouge-score`). Official scoring post-processes outputs the way the official model
adapters do; `scoring="authors"` scores raw outputs as TroL/Phantom do.
"""
from __future__ import annotations

import re
from typing import Any

from eval.registry import Benchmark, register_benchmark
from loader.benchmarks.visualwebbench import LAYOUT, TASKS, read
from loader.records import EvalItem

_DIRECT_LETTER = ("\n\nYou should directly tell me your choice in a single uppercase letter, and do not output any "
                  "explanation or any other contents.\n")
_BBOX = ("You are given a screenshot of a webpage with a red rectangle bounding box. The [x1, y1, x2, y2] coordinates "
         "of the bounding box is {bbox}.\n")
PROMPTS = {
    "web_caption": ("You are given a screenshot of a webpage. Please generate the meta web description information of "
                    "this webpage, i.e., content attribute in <meta name=\"description\" content=\"\"> HTML "
                    "element.\n\n"
                    "You should use the following format, and do not output any explanation or any other contents:\n"
                    "<meta name=\"description\" content=\"YOUR ANSWER\">\n"),
    "heading_ocr": ("You are given a screenshot of a webpage. Please generate the main text within the screenshot, "
                    "which can be regarded as the heading of the webpage.\n\nYou should directly tell me the main "
                    "content, and do not output any explanation or any other contents.\n"),
    "webqa": ("{question}\nYou should directly tell me your answer in the fewest words possible, and do not output "
              "any explanation or any other contents.\n"),
    "element_ocr": (_BBOX + "Please perform OCR in the bounding box and recognize the text content within the red "
                    "bounding box.\n\nYou should use the following format:\nThe text content within the red bounding "
                    "box is: <YOUR ANSWER>\n"),
    "element_ground": ("In this website screenshot, I have labeled IDs for some HTML elements as candicates. Tell me "
                       "which one best matches the description: {elem_desc}" + _DIRECT_LETTER),
    "action_prediction": (_BBOX + "Please select the best webpage description that matches the new webpage after "
                          "clicking the selected element in the bounding box:\n{options}" + _DIRECT_LETTER),
    "action_ground": ("In this website screenshot, I have labeled IDs for some HTML elements as candicates. Tell me "
                      "which one I should click to complete the following task: {instruction}" + _DIRECT_LETTER),
}
PRIMARY = {"web_caption": "rouge_l", "heading_ocr": "rouge_l", "element_ocr": "rouge_l", "webqa": "f1",
           "element_ground": "accuracy", "action_prediction": "accuracy", "action_ground": "accuracy"}
CHOICES = [chr(ord("A") + i) for i in range(8)]
META_RE = re.compile(r'<meta name="description" content="(.*)">')


def prompt(item: EvalItem, family: str) -> str:
    """The official prompt of the item's sub-task (lists formatted as python lists, like run.py)."""
    meta = item.meta
    fields = {"question": meta.get("question"), "bbox": _pylist(meta.get("bbox")),
              "options": _pylist(meta.get("options")), "elem_desc": meta.get("elem_desc"),
              "instruction": meta.get("instruction")}
    return PROMPTS[meta["task_type"]].format(**fields)


def _pylist(value: Any) -> str:
    return str(list(value)) if value is not None else ""


def postprocess(task: str, text: str) -> str:
    """What the official model adapters do to an output before scoring (spec 4.3)."""
    if task == "web_caption":
        match = META_RE.search(text)
        return match.group(1) if match else text
    if task == "element_ocr" and ":" in text:
        return text[text.index(":") + 1:].strip().strip('"').strip("'")
    return text


def _rouge(preds: list[str], golds: list[str]) -> dict[str, float]:
    from rouge import Rouge

    scores = Rouge(metrics=["rouge-1", "rouge-2", "rouge-l"]).get_scores(preds, golds, avg=True)
    return {"rouge_1": scores["rouge-1"]["f"] * 100, "rouge_2": scores["rouge-2"]["f"] * 100,
            "rouge_l": scores["rouge-l"]["f"] * 100}


def _webqa(preds: list[str], golds: list[list[str]]) -> dict[str, float]:
    from rouge import Rouge

    rouge = Rouge(metrics=["rouge-1"])
    f1s = []
    for pred, answers in zip(preds, golds):
        try:
            f1s.append(max(rouge.get_scores([pred or " "], [g], avg=True)["rouge-1"]["f"] for g in answers))
        except ValueError:  # rouge raises on a hypothesis with no sentence ("..."); eval_webqa drops the item
            continue
    return {"f1": 100 * sum(f1s) / len(f1s) if f1s else 0.0}


def parse_multi_choice_response(response: str, all_choices: list[str]) -> str:
    """VisualWebBench's letter parser: the last bracketed `(X)` candidate, else the last spaced ` X `."""
    if len(response) == 1:
        return response.upper()
    if not response:
        return "a"
    if re.match(r"[A-Z]\.", response):
        return response[0]
    for char in (",", ".", "!", "?", ";", ":", "'", '"'):
        response = response.replace(char, "")
    response = " " + response + " "
    candidates = [c for c in all_choices if f"({c})" in response]
    pattern = "({})"
    if not candidates:
        candidates = [c for c in all_choices if f" {c} " in response]
        pattern = " {} "
    if not candidates:
        return "z"
    positions = [response.rfind(pattern.format(c)) for c in candidates]
    return candidates[positions.index(max(positions))]


def _accuracy(preds: list[str], golds: list[int]) -> dict[str, float]:
    hits = 0
    for pred, gold in zip(preds, golds):
        letter = parse_multi_choice_response(pred, CHOICES)
        index = ord(letter) - ord("A") if "A" <= letter <= "Z" else -1
        hits += int(index == gold)
    return {"accuracy": 100 * hits / len(golds)}


def _task_scores(task: str, preds: list[str], golds: list[Any]) -> dict[str, float]:
    if task in ("web_caption", "heading_ocr"):
        return _rouge([p if p else " " for p in preds], golds)
    if task == "element_ocr":
        return _rouge([p if len(p) > 1 else " " for p in preds], golds)
    if task == "webqa":
        return _webqa(preds, golds)
    return _accuracy(preds, golds)


def score(items: list[EvalItem], predictions: dict[str, str], judge=None, scoring: str = "official") -> dict[str, Any]:
    """Per-task metrics (x100), the primary metric per task and their plain mean."""
    predictions = {str(k): v for k, v in predictions.items()}
    scores: dict[str, dict[str, float]] = {}
    raised = False
    for task in TASKS:
        subset = [i for i in items if i.meta["task_type"] == task]
        if not subset:
            continue
        raw = [predictions.get(i.id, "") for i in subset]
        preds = raw if scoring == "authors" else [postprocess(task, p) for p in raw]
        if scoring == "authors" and any((not p) if task != "element_ocr" else len(p) <= 1 for p in preds
                                        if task in ("web_caption", "heading_ocr", "element_ocr")):
            raised = True
        scores[task] = _task_scores(task, preds, [i.answer for i in subset])
    primary = {t: scores[t][PRIMARY[t]] for t in PRIMARY if t in scores}
    result: dict[str, Any] = {"scores": scores, "primary": primary,
                              "average_of_primary": sum(primary.values()) / len(primary) if primary else None}
    if raised:
        # evaluate_visualwebbench assigns into tuples built by zip(*...) when it must replace an empty caption or
        # a 0/1-character OCR answer, so the authors' harness produces no scores here; the numbers above are
        # their metric functions called with lists (spec 4.4).
        result["evaluate_visualwebbench_raised"] = "TypeError: 'tuple' object does not support item assignment"
    return result


register_benchmark(Benchmark(name="visualwebbench", read=read, prompt=prompt, max_new_tokens=512, score=score,
                             needs_judge=False, layout=LAYOUT, scorings=("official", "authors"),
                             headline=("average_of_primary",)))
