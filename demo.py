"""Ask a vision-language model about an image: one question, an interactive chat, or a Gradio page.

    python demo.py --model runs/tiny --image cat.png --question "What is in the image?"
    python demo.py --model runs/tiny --image cat.png --interactive      # keeps the conversation
    python demo.py --model runs/tiny --model BK-Lee/TroL-3.8B --web     # http://127.0.0.1:7860

`--model` takes a run directory of `train.py` (its `final/`, else its newest `checkpoint-*`), a model
directory (ours or an authors' checkpoint) or a hub id; loading is `model.load_model`/`load_processor`.
Tokens are streamed as they are generated (transformers' `TextIteratorStreamer` fed by
`model.generate(..., streamer=...)`). Gradio is imported only for `--web`, which serves on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import inspect
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import torch

log = logging.getLogger("demo")

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_model_path(spec: str) -> str:
    """Map a `--model` value to what `load_model` takes: a run directory becomes its `final/` (or its
    newest `checkpoint-<step>/`); any other directory or a hub id is returned unchanged."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        return spec
    if (path / "final").is_dir():
        return str(path / "final")
    steps = [(int(m.group(1)), p) for p in path.glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    if steps and not (path / "config.json").is_file():
        return str(max(steps)[1])
    return str(path)


def pick_device(name: str) -> str:
    """`auto` -> "cuda" when a GPU is visible, else "cpu"; any other value is passed through."""
    if name != "auto":
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def _tokenizer_of(processor: Any) -> Any:
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is None:
        raise TypeError(f"{type(processor).__name__} has no `tokenizer` attribute; the demo streams through it "
                        "(model.processing.Processor keeps it as `.tokenizer`)")
    return tokenizer


@dataclass
class ChatEngine:
    """A loaded model with its processor: turns a conversation into streamed answer text."""

    model: Any
    processor: Any
    name: str = "model"
    max_new_tokens: int = 128

    def inputs(self, turns: list[tuple[str, str]], question: str, image: Any) -> dict[str, Any]:
        """Model inputs (batch of one) for `question` after the earlier `(question, answer)` turns.

        The image belongs to the first user turn. A first question goes through
        `processor.generation_inputs`; a follow-up is laid out with the processor's own template as a
        conversation (the training layout of earlier turns, then the generation prompt), or through a
        `history=` argument when the processor takes one."""
        if not turns:
            return self.processor.generation_inputs([question], [image])
        fn = self.processor.generation_inputs
        if "history" in inspect.signature(fn).parameters:
            return fn([question], [image], history=[list(turns)])
        return self._conversation_inputs(turns, question, image)

    def _conversation_inputs(self, turns: list[tuple[str, str]], question: str, image: Any) -> dict[str, Any]:
        proc = self.processor
        template = getattr(proc, "template", None)
        if template is None or not hasattr(template, "conversation"):
            raise TypeError(f"{type(proc).__name__} cannot lay out a conversation (no `template.conversation`, no "
                            "`generation_inputs(..., history=)`); use a model.processing.Processor")
        refs = [] if image is None else [image]
        pixels = proc.prepare_images(refs)
        messages = [m for q, a in turns for m in (("user", q), ("assistant", a))]
        messages[0] = ("user", proc.place_placeholders([messages[0][1]], len(pixels), len(refs))[0])
        text = "".join(piece for piece, _ in template.conversation(messages, proc.settings.system))
        text += template.user_format.format(content=question) + template.assistant_prefix
        text = template.expand_images(text, [proc.image_token_count(p) for p in pixels])
        ids = torch.tensor([proc.tokenizer(text, add_special_tokens=False)["input_ids"]], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                "pixel_values": torch.cat(pixels).float() if pixels else None}

    def stream(self, turns: list[tuple[str, str]], question: str, image: Any) -> "Reply":
        """Start generating; iterate the returned `Reply` for the text pieces, then read `reply.text`."""
        return Reply(self, self.inputs(turns, question, image))


class Reply:
    """One answer being generated: `model.generate` runs in a worker thread and feeds a
    `TextIteratorStreamer`; iterating yields the streamed text pieces. After the iteration, `text` is the
    processor's decode of the new tokens (special tokens removed, the authors' output filtering)."""

    def __init__(self, engine: ChatEngine, batch: dict[str, Any]) -> None:
        from transformers import TextIteratorStreamer

        params = next(engine.model.parameters())
        self._batch = {k: (v.to(params.device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        if isinstance(self._batch.get("pixel_values"), torch.Tensor):
            self._batch["pixel_values"] = self._batch["pixel_values"].to(params.dtype)
        self._engine = engine
        self._streamer = TextIteratorStreamer(_tokenizer_of(engine.processor), skip_prompt=True,
                                              skip_special_tokens=True, timeout=600.0)
        self._result: dict[str, Any] = {}
        self.text: str | None = None
        self._worker = threading.Thread(target=self._generate, name="demo-generate", daemon=True)
        self._worker.start()

    def _generate(self) -> None:
        try:
            with torch.inference_mode():
                self._result["ids"] = self._engine.model.generate(
                    **self._batch, max_new_tokens=self._engine.max_new_tokens, do_sample=False, num_beams=1,
                    streamer=self._streamer)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread in __iter__
            self._result["error"] = exc
            self._streamer.end()

    def __iter__(self) -> Iterator[str]:
        for piece in self._streamer:
            if piece:
                yield piece
        self._worker.join()
        if "error" in self._result:
            raise RuntimeError(f"generation with {self._engine.name} failed: {self._result['error']}") \
                from self._result["error"]
        ids, prompt = self._result["ids"][0].cpu(), self._batch["input_ids"][0].cpu()
        # Stock generate returns prompt + new tokens for input_ids, only the new ones for inputs_embeds.
        if ids.shape[0] > prompt.shape[0] and torch.equal(ids[: prompt.shape[0]], prompt):
            ids = ids[prompt.shape[0]:]
        self.text = self._engine.processor.decode(ids.tolist()).strip()


@dataclass
class Conversation:
    """One chat about one image: the image and the `(question, answer)` turns so far."""

    image: Any = None
    turns: list[tuple[str, str]] = field(default_factory=list)

    def ask(self, engine: ChatEngine, question: str, on_text: Callable[[str], None] | None = None) -> str:
        """Stream the answer to `question` through `on_text`, append the turn, return the final answer."""
        reply = engine.stream(self.turns, question, self.image)
        for piece in reply:
            if on_text is not None:
                on_text(piece)
        answer = reply.text or ""
        self.turns.append((question, answer))
        return answer

    def reset(self, image: Any = None) -> None:
        self.image, self.turns = image, []


def open_image(path: str | None) -> Any:
    """A PIL RGB image from `path`, or None; a missing or unreadable file fails with its name."""
    if not path:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
        raise SystemExit(f"demo: cannot open image {path!r}: {exc}. Pass an existing PNG/JPEG file with --image.")


def load_engine(spec: str, device: str = "auto", dtype: str = "float32", max_new_tokens: int = 128,
                quantization: str | None = None) -> ChatEngine:
    """Load model + processor for a `--model` value (run dir, model dir or hub id)."""
    from model import load_model, load_processor

    path = resolve_model_path(spec)
    log.info("loading %s (%s, %s)", path, pick_device(device), dtype)
    model = load_model(path, dtype=DTYPES[dtype], device=pick_device(device), quantization=quantization)
    model.eval()
    return ChatEngine(model=model, processor=load_processor(path), name=spec, max_new_tokens=max_new_tokens)


def build_web_app(model_specs: list[str], load: Callable[[str], ChatEngine]) -> Any:
    """The Gradio page: model choice, image upload, chat with streamed answers. Models load on first use
    and stay loaded; a new image or a new model starts a new conversation."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    import gradio as gr  # noqa: PLC0415 - optional, only for --web

    engines: dict[str, ChatEngine] = {}
    lock = threading.Lock()

    def engine_for(spec: str) -> ChatEngine:
        with lock:  # one load per model even when two sessions ask at once
            if spec not in engines:
                try:
                    engines[spec] = load(spec)
                except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
                    raise gr.Error(f"cannot load model {spec!r}: {exc}") from exc
            return engines[spec]

    def respond(spec: str, image: Any, question: str, chat: list[dict], conv: Conversation | None):
        question = (question or "").strip()
        if not question:
            yield chat, conv, ""
            return
        engine = engine_for(spec)
        conv = conv if conv is not None and conv.turns else Conversation(image=image)
        chat = [*chat, {"role": "user", "content": question}, {"role": "assistant", "content": ""}]
        yield chat, conv, ""
        reply, shown = engine.stream(conv.turns, question, conv.image), ""
        for piece in reply:
            shown += piece
            chat[-1] = {"role": "assistant", "content": shown}
            yield chat, conv, ""
        conv.turns.append((question, reply.text or ""))
        chat[-1] = {"role": "assistant", "content": reply.text or "(empty answer)"}
        yield chat, conv, ""

    def restart() -> tuple[list, None]:
        return [], None

    with gr.Blocks(title="TroL / Phantom demo") as app:
        gr.Markdown("## TroL / Phantom demo\nUpload an image, choose a model, ask a question.")
        with gr.Row():
            with gr.Column(scale=1):
                model_box = gr.Dropdown(choices=list(model_specs), value=model_specs[0], allow_custom_value=True,
                                        label="Model (run dir, model dir or hub id)", elem_id="model")
                image_box = gr.Image(type="pil", label="Image", elem_id="image")
            with gr.Column(scale=2):
                chat_box = gr.Chatbot(label="Conversation", elem_id="chat", height=360)
                question_box = gr.Textbox(label="Question", placeholder="Ask about the image", elem_id="question")
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="send")
                    clear = gr.Button("New conversation", elem_id="clear")
        state = gr.State(None)
        inputs, outputs = [model_box, image_box, question_box, chat_box, state], [chat_box, state, question_box]
        send.click(respond, inputs, outputs, api_name="respond")
        question_box.submit(respond, inputs, outputs, api_name=False)
        for trigger in (clear.click, image_box.change, model_box.change):
            trigger(restart, None, [chat_box, state], api_name=False)
    return app


def serve(model_specs: list[str], load: Callable[[str], ChatEngine], port: int = 7860, block: bool = True) -> Any:
    """Launch the page on 127.0.0.1:`port` (loopback only, no share link); returns the Gradio app
    (call `.close()` when `block` is False)."""
    app = build_web_app(model_specs, load)
    app.queue().launch(server_name="127.0.0.1", server_port=port, share=False, inbrowser=False, quiet=True,
                       ssr_mode=False, prevent_thread_lock=not block, footer_links=[])
    log.info("demo page on http://127.0.0.1:%d", port)
    return app


HELP = ("commands: /image PATH (new image, new conversation), /reset (same image, new conversation), "
        "/quit; anything else is a question")


def interactive(engine: ChatEngine, conversation: Conversation, read: Callable[[str], str] = input,
                out: TextIO = sys.stdout) -> Conversation:
    """A terminal chat that keeps the conversation until `/quit` or end of input."""
    out.write(HELP + "\n")
    while True:
        try:
            line = read("you> ").strip()
        except EOFError:
            break
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/reset":
            conversation.reset(conversation.image)
            out.write("(new conversation)\n")
            continue
        if line.startswith("/image"):
            conversation.reset(open_image(line[len("/image"):].strip()))
            out.write("(new image, new conversation)\n")
            continue
        out.write("model> ")
        conversation.ask(engine, line, on_text=lambda text: (out.write(text), out.flush()))
        out.write("\n")
    return conversation


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=HELP)
    parser.add_argument("--model", action="append", required=True,
                        help="run dir, model dir or hub id; repeat to offer several models on the web page")
    parser.add_argument("--image", help="image file the questions are about")
    parser.add_argument("--question", help="ask this once and exit")
    parser.add_argument("--interactive", action="store_true", help="chat in the terminal, keeping the conversation")
    parser.add_argument("--web", action="store_true", help="serve a Gradio page on 127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--quantization", choices=["4bit", "8bit"], default=None,
                        help="bitsandbytes quantization (GPU only; ignored with a notice on CPU)")
    args = parser.parse_args(argv)
    if not (args.question or args.interactive or args.web):
        parser.error("give --question TEXT, --interactive or --web")
    return args


def main(argv: list[str] | None = None, loader: Callable[..., ChatEngine] = load_engine,
         out: TextIO = sys.stdout) -> str | None:
    """Entry point; `loader` is injectable for tests. Returns the answer of a `--question` run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    load = lambda spec: loader(spec, device=args.device, dtype=args.dtype,  # noqa: E731
                               max_new_tokens=args.max_new_tokens, quantization=args.quantization)
    if args.web:
        serve(args.model, load, port=args.port, block=True)
        return None
    engine = load(args.model[0])
    conversation = Conversation(image=open_image(args.image))
    answer = None
    if args.question:
        out.write("model> ")
        answer = conversation.ask(engine, args.question, on_text=lambda text: (out.write(text), out.flush()))
        out.write("\n")
    if args.interactive:
        interactive(engine, conversation, out=out)
    return answer


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
