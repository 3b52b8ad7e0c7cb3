"""Prompt templates of the four checkpoint families (spec/model.md §6), plus the tiny models' choice.

([U145]/[U146] below stand for InternLM2's [UNUSED_TOKEN_145]/[UNUSED_TOKEN_146] turn markers.)

A `Template` knows how to write a generation prompt for a question, how to lay out a multi-turn training
conversation (which parts are targets, ending with the family's training end marker), how an image placeholder
`<image>` is expanded into image tokens, where the authors put the placeholder when a question has none, and the
authors' output filtering (`test_start`/`test_end`).

| name | checkpoints | layout |
| --- | --- | --- |
| `trol_internlm2` | TroL-1.8B/7B | `<s>[U146]system\\nSYS[U145]\\n[U146]user\\nQ[U145]\\n[U146]assistant\\n` |
| `trol_phi3` | TroL-3.8B | `<s><|system|>\\nSYS<|end|>\\n<|user|>\\nQ<|end|>\\n<|assistant|>\\n` |
| `phantom_chatml` | Phantom-0.5B/1.8B/7B, our tiny models | `<|im_start|>user\\nQ<|im_end|><|im_start|>assistant\\n` |
| `phantom_phi3` | Phantom-3.8B | `<|user|>\\nQ<|end|><|assistant|>\\n` |

Multi-turn training text (the authors released no training code, spec §10): every assistant turn is followed by
the end marker, and the next user turn follows directly; each assistant answer plus its end marker is a target.
"""
from __future__ import annotations

from dataclasses import dataclass

IMAGE_PLACEHOLDER = "<image>"

# spec/model.md §6.1: the two sentences joined by one space, no final period.
TROL_SYSTEM = ("You are AI model created by Byung-Kwan Lee, Ph.D. candidate, KAIST EE, of which AI model name is "
               "TroL (Traversal of Layers). You must give helpful, detailed, and polite answers to the user's "
               "questions")


@dataclass(frozen=True)
class Template:
    """One chat format. Format strings use `{content}`."""

    name: str
    user_format: str
    assistant_prefix: str
    assistant_end: str  # training end marker after each answer
    eos_token: str  # the token generation stops on
    test_start: str
    test_end: str
    skip_special_tokens: bool  # how the authors decode before filtering (spec §6.4)
    image_token: str
    image_start: str = ""  # "<img>" for InternVL-style blocks, "" for a plain run of image tokens
    image_end: str = ""
    question_image_prefix: str = IMAGE_PLACEHOLDER  # what the authors put before a question without placeholder
    bos: str = ""
    system_format: str = ""
    default_system: str | None = None
    # Phantom (spec §6.4): several images of one question are pasted side by side into one image.
    concat_images: bool = False

    # -- text -----------------------------------------------------------------------------------------------
    def system_text(self, system: str | None = None) -> str:
        text = self.default_system if system is None else system
        if not text or not self.system_format:
            return self.bos
        return self.bos + self.system_format.format(content=text)

    def prepare_question(self, question: str, num_images: int) -> str:
        """Add placeholders the way the authors' demo path does when the question has none: TroL prepends
        `<image>\\n` (spec §6.1, Q10: the demo form is the only self-consistent one), Phantom `<image>` (§6.3, Q11)."""
        if num_images and IMAGE_PLACEHOLDER not in question:
            return self.question_image_prefix * num_images + question
        return question

    def prompt(self, question: str, system: str | None = None) -> str:
        """Generation prompt for one question (placeholders not yet expanded)."""
        return self.system_text(system) + self.user_format.format(content=question) + self.assistant_prefix

    def conversation(self, turns: list[tuple[str, str]], system: str | None = None,
                     target_turns: str = "all") -> list[tuple[str, bool]]:
        """Training text of `turns` [(role, content)] as [(text, is_target)] pieces whose concatenation is the
        full text. `target_turns`: "all" assistant turns, or "last" only (Phantom triples)."""
        if target_turns not in ("all", "last"):
            raise ValueError(f"target_turns must be 'all' or 'last', got {target_turns!r}")
        pieces: list[tuple[str, bool]] = []
        roles = [r for r, _ in turns]
        if roles and roles[0] == "system":
            system = turns[0][1]
            turns = turns[1:]
            roles = roles[1:]
        for i, role in enumerate(roles):
            if role not in ("user", "assistant"):
                raise ValueError(f"turn {i}: unknown role {role!r} (expected a leading system turn, then user and "
                                 f"assistant turns); got roles {roles}")
        if not turns or roles[0] != "user" or "assistant" not in roles:
            raise ValueError(f"a conversation must start with a user turn and contain an assistant turn; got roles "
                             f"{roles}")
        last_assistant = max(i for i, r in enumerate(roles) if r == "assistant")
        head = self.system_text(system)
        if head:
            pieces.append((head, False))
        for i, (role, content) in enumerate(turns):
            if role == "user":
                pieces.append((self.user_format.format(content=content) + self.assistant_prefix, False))
            else:
                if roles[i - 1] != "user":
                    raise ValueError(f"turn {i}: an assistant turn must follow a user turn; got roles {roles}")
                target = target_turns == "all" or i == last_assistant
                pieces.append((content + self.assistant_end, target))
            if role == "user" and i + 1 < len(roles) and roles[i + 1] != "assistant":
                raise ValueError(f"turn {i + 1}: two user turns in a row; got roles {roles}")
        if roles[-1] != "assistant":
            raise ValueError(f"the last turn must be an assistant turn; got roles {roles}")
        return pieces

    # -- images ---------------------------------------------------------------------------------------------
    def image_block(self, num_tokens: int) -> str:
        return self.image_start + self.image_token * num_tokens + self.image_end

    def expand_images(self, text: str, tokens_per_image: list[int]) -> str:
        """Replace the k-th `<image>` by the block of `tokens_per_image[k]` image tokens."""
        parts = text.split(IMAGE_PLACEHOLDER)
        if len(parts) - 1 != len(tokens_per_image):
            raise ValueError(f"text has {len(parts) - 1} {IMAGE_PLACEHOLDER} placeholders but {len(tokens_per_image)} "
                             f"images; fix: one placeholder per image")
        out = [parts[0]]
        for n, part in zip(tokens_per_image, parts[1:]):
            out.append(self.image_block(n))
            out.append(part)
        return "".join(out)

    # -- outputs --------------------------------------------------------------------------------------------
    def filter_output(self, text: str) -> str:
        """spec §6.4: text after the last `test_start`, cut at the first `test_end`, stripped."""
        return text.split(self.test_start)[-1].split(self.test_end)[0].strip()


TEMPLATES: dict[str, Template] = {
    "trol_internlm2": Template(
        name="trol_internlm2", bos="<s>",
        system_format="[UNUSED_TOKEN_146]system\n{content}[UNUSED_TOKEN_145]\n", default_system=TROL_SYSTEM,
        user_format="[UNUSED_TOKEN_146]user\n{content}[UNUSED_TOKEN_145]\n",
        assistant_prefix="[UNUSED_TOKEN_146]assistant\n", assistant_end="[UNUSED_TOKEN_145]\n</s>",
        eos_token="</s>", test_start="assistant\n", test_end="[UNUSED_TOKEN_145]", skip_special_tokens=False,
        image_token="<image>", question_image_prefix="<image>\n"),
    "trol_phi3": Template(
        name="trol_phi3", bos="<s>", system_format="<|system|>\n{content}<|end|>\n", default_system=TROL_SYSTEM,
        user_format="<|user|>\n{content}<|end|>\n", assistant_prefix="<|assistant|>\n",
        assistant_end="<|end|>\n</s>", eos_token="<|endoftext|>", test_start="<|assistant|>\n", test_end="<|end|>",
        skip_special_tokens=False, image_token="<IMG_CONTEXT>", image_start="<img>", image_end="</img>",
        question_image_prefix="<image>\n"),
    "phantom_chatml": Template(
        name="phantom_chatml", system_format="<|im_start|>system\n{content}<|im_end|>",
        user_format="<|im_start|>user\n{content}<|im_end|>", assistant_prefix="<|im_start|>assistant\n",
        assistant_end="<|im_end|>", eos_token="<|im_end|>", test_start="assistant\n", test_end="<|im_end|>",
        skip_special_tokens=True, image_token="<IMG_CONTEXT>", image_start="<img>", image_end="</img>",
        concat_images=True),
    "phantom_phi3": Template(
        name="phantom_phi3", system_format="<|system|>\n{content}<|end|>", user_format="<|user|>\n{content}<|end|>",
        assistant_prefix="<|assistant|>\n", assistant_end="<|end|>", eos_token="<|end|>",
        test_start="<|assistant|>\n", test_end="<|end|>", skip_special_tokens=True, image_token="<IMG_CONTEXT>",
        image_start="<img>", image_end="</img>", concat_images=True),
}
# Aliases: our tiny TroL+Phantom models use the Phantom ChatML template.
ALIASES = {"tiny": "phantom_chatml", "chatml": "phantom_chatml", "phantom_internlm2": "phantom_chatml",
           "phantom_qwen2": "phantom_chatml"}


def get_template(name: str) -> Template:
    """The template called `name` (or an alias such as "tiny")."""
    key = ALIASES.get(name, name)
    if key not in TEMPLATES:
        raise KeyError(f"unknown prompt template {name!r}; known: {sorted(TEMPLATES) + sorted(ALIASES)}")
    return TEMPLATES[key]


def template_for(family: str, use_trol: bool = False, use_phantom: bool = False) -> Template:
    """Default template for a backbone family when a config names none: TroL checkpoints (use_trol without
    use_phantom) get the TroL template of their family, everything else the Phantom one."""
    if use_trol and not use_phantom:
        if family == "internlm2":
            return TEMPLATES["trol_internlm2"]
        if family == "phi3":
            return TEMPLATES["trol_phi3"]
    return TEMPLATES["phantom_phi3" if family == "phi3" else "phantom_chatml"]
