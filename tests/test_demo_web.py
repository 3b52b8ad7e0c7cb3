"""demo.py --web in a real headless browser: Debian's Chromium driven by playwright-python (the browser is the
system one, never downloaded). Upload an image, ask a question, read the streamed answer on the page.

The model is the word-level stand-in of test_demo_cli.py, so the expected answer is known: the same
greedy generation run directly. Set DEMO_SCREENSHOT=path to keep the screenshot (figures/demo_web.png is
made this way from the trained tiny model, see docs/quickstart.md); DEMO_MODEL=run-dir uses a real model,
DEMO_IMAGE=file and DEMO_QUESTION=text choose what is asked.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import demo
from test_demo_cli import make_engine as make_stand_in

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags the project uses for every headless run: no GPU, no network side channels, a fresh profile.
BOT = "#chat .message.bot"  # one element per assistant message of gradio's Chatbot
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: run `bash scripts/install_system_deps.sh` (Debian's chromium), "
                    "or set CHROMIUM=/path/to/chromium")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="demo-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                            args=CHROMIUM_FLAGS, viewport={"width": 1200,
                                                                                           "height": 760})
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def make_engine(spec: str) -> demo.ChatEngine:
    real = os.environ.get("DEMO_MODEL")
    if real:
        return demo.load_engine(real, device="cpu", max_new_tokens=24)
    return make_stand_in(spec)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_upload_ask_and_read_the_answer(browser_page: Any, tmp_path: Path) -> None:
    image_path = tmp_path / "shape.png"
    Image.new("RGB", (64, 64), (30, 60, 200)).save(image_path)
    if os.environ.get("DEMO_IMAGE"):
        image_path = Path(os.environ["DEMO_IMAGE"])
    question = os.environ.get("DEMO_QUESTION", "what color is the shape")

    loaded: list[str] = []
    engines: list[demo.ChatEngine] = []

    def loader(spec: str) -> demo.ChatEngine:
        loaded.append(spec)
        engines.append(make_engine(spec))
        return engines[-1]

    expected_engine = make_engine("reference")
    expected = demo.Conversation(image=Image.open(image_path).convert("RGB")).ask(expected_engine, question)
    assert expected, "the reference answer must not be empty, or the page check below proves nothing"

    port = free_port()
    choice = os.environ.get("DEMO_MODEL", "stand-in-model")
    app = demo.serve([choice, "other-model"], loader, port=port, block=False)
    page = browser_page
    try:
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=60_000)
        page.locator("#image input[type=file]").set_input_files(str(image_path))
        page.locator("#image img").first.wait_for(state="visible", timeout=30_000)
        page.locator("#question textarea").fill(question)
        page.locator("#send").click()
        bot = page.locator(BOT).last
        bot.wait_for(state="visible", timeout=120_000)
        page.wait_for_function(
            "([sel, n]) => { const e = document.querySelectorAll(sel); return e.length && "
            "e[e.length - 1].innerText.trim().split(/\\s+/).length >= n; }",
            arg=[BOT, len(expected.split())], timeout=120_000)
        page.wait_for_timeout(500)
        shown = bot.inner_text().strip()
        # a follow-up question keeps the conversation: two answers on the page, the second prompt holds the first
        page.locator("#question textarea").fill("and what shape?")
        page.locator("#send").click()
        page.wait_for_function(
            "([sel]) => document.querySelectorAll(sel).length >= 2", arg=[BOT], timeout=120_000)
        page.wait_for_function(
            "([sel]) => { const e = document.querySelectorAll(sel); return e[e.length - 1].innerText.trim().length; }",
            arg=[BOT], timeout=120_000)
        answers = page.locator(BOT).count()
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "demo_web.png"), full_page=True)
        if os.environ.get("DEMO_SCREENSHOT"):
            page.screenshot(path=os.environ["DEMO_SCREENSHOT"], full_page=True)
    finally:
        app.close()

    assert loaded == [choice], "the page loads the model chosen in the dropdown, once"
    assert shown.split() == expected.split()
    assert answers == 2
    assert app.server_name == "127.0.0.1", "the page is served on loopback only"
    if not os.environ.get("DEMO_MODEL"):
        first, second = engines[0].model.calls[0], engines[0].model.calls[-1]
        assert first["pixel_values"] is not None, "the uploaded image must reach the model"
        prompt = engines[0].processor.tokenizer.decode(first["input_ids"][0])
        assert "<IMG_CONTEXT>" in prompt and question in prompt
        follow_up = engines[0].processor.tokenizer.decode(second["input_ids"][0])
        assert question in follow_up and expected in follow_up and "and what shape?" in follow_up
    assert (tmp_path / "demo_web.png").stat().st_size > 10_000
