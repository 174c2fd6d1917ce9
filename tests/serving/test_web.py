"""The web page at `/`, driven in a real headless Chromium (Debian's chromium and
chromium-driver, through selenium): key prompt, upload and its preview, plan graph, what each
step produced, media, download links, errors, a workflow form, and an approval."""

import json
import os
import shutil
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import ImageRef, VideoRef
from mmagent.planner import Completion
from mmagent.toolkit import Tool
from tests.serving.conftest import fake_server, wav_bytes
from tests.serving.helpers import PlanByInputs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (make system-deps installs them)")
KEY = "sk-web-test"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FakePaint(Tool):
    name = "fake_paint"
    description = "Paints a small square in a colour named by its label and describes it."

    class Input(_M):
        label: str = Field(description="names the colour")

    class Output(_M):
        image: ImageRef = Field(description="the square")
        note: str = Field(description="how it was painted, at length")

    def run(self, inputs, ctx):
        out = []
        for i in inputs:
            colour = tuple(zlib.crc32(i.label.encode()).to_bytes(4, "big")[:3])
            note = f"a square of {i.label} paint, " + ", ".join(f"stroke {n}" for n in range(30))
            out.append(self.Output(image=ctx.store.put_image(Image.new("RGB", (16, 16), colour)),
                                   note=note))
        return out


class FakeFilm(Tool):
    name = "fake_film"
    description = "Films an image fading in: one second of video."

    class Input(_M):
        image: ImageRef = Field(description="the picture")

    class Output(_M):
        video: VideoRef = Field(description="the film")

    def run(self, inputs, ctx):
        out = []
        for i in inputs:
            picture = Image.open(ctx.store.path(i.image)).convert("RGB").resize((32, 32))
            picture = np.asarray(picture)
            frames = [(picture * (n + 1) / 8).astype(np.uint8) for n in range(8)]
            out.append(self.Output(video=ctx.store.put_video(frames, 8)))
        return out


EVERY_KIND = {"tasks": [  # an image and a long text, a caption, a video, speech
    {"id": "paint", "tool": "fake_paint", "args": {"label": "teal"}},
    {"id": "look", "tool": "fake_caption", "args": {"image": "$paint.image"}},
    {"id": "film", "tool": "fake_film", "args": {"image": "$paint.image"}},
    {"id": "say", "tool": "fake_speak", "args": {"text": "$look.text"}}]}
DOZEN = {"tasks": [{"id": f"p{n}", "tool": "fake_paint", "args": {"label": f"colour {n}"}}
                   for n in range(1, 13)]}


ASK_THE_CLIENT = {"tasks": [{"id": "t1", "tool": "get_weather", "args": {"city": "Oslo"}}]}
EACH_COLOUR = {"tasks": [  # tasks over lists: two squares, a caption of each
    {"id": "paint", "tool": "fake_paint", "each": "label", "args": {"label": ["red", "blue"]}},
    {"id": "look", "tool": "fake_caption", "each": "image", "args": {"image": "$paint.image"}}]}


class PlanForThePage(PlanByInputs):
    """PlanByInputs, but "paint and film" plans every kind of output and "paint a dozen"
    twelve steps side by side."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        planning = json_schema is None or "tasks" in json_schema.get("properties", {})
        request = " ".join(m["content"] for m in messages if m["role"] == "user")
        for words, plan in (("paint and film", EVERY_KIND), ("paint a dozen", DOZEN),
                            ("weather in Oslo", ASK_THE_CLIENT),
                            ("paint each colour", EACH_COLOUR)):
            if planning and words in request:
                return Completion(json.dumps(plan), 1, 1)
        return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Fake tools and a planner without a model; `fake_sleep` (plain prompts) needs approval."""
    with fake_server(tmp_path_factory.mktemp("web"), extra_tools=(FakePaint, FakeFilm),
                     backend=PlanForThePage(), serving={"api_keys": [KEY]},
                     executor={"approval": {"tools": ["fake_sleep"]}}) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                 "--autoplay-policy=no-user-gesture-required",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def page(server, browser):
    """The page, signed in with the key typed into its prompt."""
    from selenium.webdriver.common.by import By

    forget_key(browser, server)
    wait(browser, lambda d: d.find_element(By.ID, "key-form").is_displayed())
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    browser.find_element(By.ID, "key-submit").click()
    wait(browser, lambda d: d.find_element(By.ID, "app").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('mmagent.apiKey')") == KEY
    return browser


def forget_key(browser, server):
    """A fresh tab state: the key is cleared on a page of the origin that runs no script (the
    page itself could store the key again from a sign-in still in flight)."""
    browser.get(server.base_url + "/healthz")
    browser.execute_script("sessionStorage.clear()")
    browser.get(server.base_url + "/")


def wait(driver, condition, timeout=30):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the page redraws the plan graph as events arrive: an element found a moment ago may be gone
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def node_states(driver) -> dict[str, str]:
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#plan .node[data-task]')]"
        ".map(g => [g.dataset.task, g.dataset.status]))")


def node(driver, task):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#plan .node[data-task={task}]")


def run_count(server) -> int:
    """How many runs the server holds for the key (the page's own list could lag)."""
    response = httpx.get(server.base_url + "/v1/runs", headers={"Authorization": f"Bearer {KEY}"})
    return len(response.json()["data"])


def media_ready(driver, selector) -> bool:
    """The image (decoded) or the player (its length known) that ``selector`` finds."""
    return driver.execute_script(
        "const m = document.querySelector(arguments[0]);"
        "return m !== null && (m.tagName === 'IMG' ? m.complete && m.naturalWidth > 0"
        " : m.readyState >= 1 && m.duration > 0)", selector)


def test_a_wrong_key_is_refused(server, browser):
    from selenium.webdriver.common.by import By

    forget_key(browser, server)
    browser.find_element(By.ID, "api-key").send_keys("sk-wrong")
    browser.find_element(By.ID, "key-submit").click()
    wait(browser, lambda d: d.find_element(By.ID, "key-error").text)
    assert "refused" in browser.find_element(By.ID, "key-error").text
    assert not browser.find_element(By.ID, "app").is_displayed()


def test_caption_and_speak_from_upload_to_playing_audio(page, tmp_path):
    from selenium.webdriver.common.by import By

    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(photo)
    page.find_element(By.ID, "prompt").send_keys("What is in this photo? Say it aloud.")
    page.find_element(By.ID, "files").send_keys(str(photo))
    page.find_element(By.ID, "send").click()

    # the plan as a graph: the input, then both steps, each finished
    wait(page, lambda d: node_states(d) == {"t1": "done", "t2": "done"})
    labels = [t.text for t in page.find_elements(By.CSS_SELECTOR, "#plan .node .label")]
    assert "t1 · fake_caption" in labels and "t2 · fake_speak" in labels
    assert page.find_element(By.CSS_SELECTOR, "#plan .node.input").text == "input image0"
    assert len(page.find_elements(By.CSS_SELECTOR, "#plan path.edge")) == 2
    wait(page, lambda d: "a 32x24 picture" in d.find_element(By.ID, "answer").text)
    assert page.find_element(By.ID, "run-status").text == "completed"
    # each step shows what it produced in words, and its time
    caption = node(page, "t1")
    assert caption.find_element(By.CSS_SELECTOR, ".output").text == "a 32x24 picture"
    assert caption.find_element(By.CSS_SELECTOR, ".state").text.endswith(" s")
    # the speech plays inline
    wait(page, lambda d: d.execute_script(
        "const a = document.querySelector('#artifacts audio');"
        "return a !== null && !a.paused && a.currentTime > 0"))
    link = page.find_element(By.CSS_SELECTOR, "#artifacts figure[data-kind=audio] a")
    assert link.get_attribute("download") == "t2-audio.wav"
    assert link.get_attribute("href").startswith("blob:")


@pytest.mark.skipif(not os.environ.get("MMAGENT_WEB_SCREENSHOT"),
                    reason="writes docs/web.png: set MMAGENT_WEB_SCREENSHOT=docs/web.png")
def test_real_product_screenshot(browser, tmp_path):
    """docs/web.png from the real product: the offline profile's real tools read the shipped
    sign aloud (PP-OCRv4, then the hibari voice), planned by SmolLM2's grounded planner."""
    from selenium.webdriver.common.by import By

    from mmagent import Agent, Config
    from mmagent.serving.server import ServerThread, build_app

    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                                    "serving": {"api_keys": [KEY]}}, profile="offline"))
    with ServerThread(build_app(agent=agent)) as srv:
        forget_key(browser, srv)
        browser.find_element(By.ID, "api-key").send_keys(KEY)
        browser.find_element(By.ID, "key-submit").click()
        wait(browser, lambda d: d.find_element(By.ID, "app").is_displayed())
        sign = Path(__file__).resolve().parents[2] / "examples" / "sign.png"
        browser.find_element(By.ID, "prompt").send_keys("Read the sign in this photo aloud.")
        browser.find_element(By.ID, "files").send_keys(str(sign))
        browser.find_element(By.ID, "send").click()
        wait(browser, lambda d: node_states(d) == {"t1": "done", "t2": "done"}, timeout=300)
        wait(browser, lambda d: "Riverside" in d.find_element(By.ID, "answer").text)
        wait(browser, lambda d: d.execute_script(
            "const a = document.querySelector('#artifacts audio');"
            "return a !== null && a.currentTime > 0"))
        browser.save_screenshot(str(Path(os.environ["MMAGENT_WEB_SCREENSHOT"]).resolve()))


def test_workflow_form_runs_a_workflow(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    photo = tmp_path / "wide.png"
    Image.new("RGB", (40, 20), (200, 30, 30)).save(photo)
    page.find_element(By.CSS_SELECTOR, ".tab[data-tab=workflow]").click()
    Select(page.find_element(By.ID, "workflow")).select_by_value("describe_fake")
    fields = {f.get_attribute("name"): f for f in
              page.find_elements(By.CSS_SELECTOR, "#workflow-inputs input")}
    assert fields["image"].get_attribute("type") == "file"
    assert fields["note"].get_attribute("type") == "text"
    fields["image"].send_keys(str(photo))
    page.find_element(By.ID, "run-workflow").click()
    wait(page, lambda d: node_states(d) == {"caption": "done", "say": "done"})
    wait(page, lambda d: "a 40x20 picture" in d.find_element(By.ID, "answer").text)
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#artifacts audio"))


def test_approve_a_waiting_step(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please echo banana")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "approval").is_displayed())
    assert "fake_sleep" in page.find_element(By.ID, "approval-text").text
    assert node_states(page) == {"t1": "waiting"}
    assert page.find_element(By.ID, "run-status").text == "awaiting approval"
    page.find_element(By.ID, "approve").click()
    wait(page, lambda d: node_states(d) == {"t1": "done"})
    # the step's progress events reached the graph (fake_sleep reports 4 steps)
    assert node(page, "t1").get_attribute("data-progress") == "4/4"
    wait(page, lambda d: "banana" in d.find_element(By.ID, "answer").text)
    assert page.find_element(By.ID, "run-status").text == "completed"


def test_reject_a_waiting_step(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please echo cherry")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "approval").is_displayed())
    page.find_element(By.ID, "reject").click()
    wait(page, lambda d: d.find_element(By.ID, "run-status").text not in ("running",
                                                                          "awaiting approval"))
    assert "t1" in page.find_element(By.ID, "answer").text
    assert "rejected" in page.find_element(By.ID, "answer").text
    assert node_states(page) == {"t1": "skipped"}  # drawn as not run
    assert not page.find_elements(By.CSS_SELECTOR, "#artifacts figure")


def test_a_failed_step_is_shown_failed(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please fail")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "run-status").text not in ("", "running"))
    assert node_states(page) == {"t1": "failed"}
    assert page.find_element(By.ID, "run-status").text == "failed"
    # the box says why; the run says which step failed and why
    why = node(page, "t1").find_element(By.CSS_SELECTOR, ".why")
    assert why.is_displayed() and why.text == "the fake model crashed"
    error = page.find_element(By.ID, "run-error")
    assert error.is_displayed()
    assert error.text == "task 't1' (fake_fail) failed: the fake model crashed"
    log = page.find_element(By.ID, "log").text
    assert "t1 fake_fail failed" in log and "re-planned after t1 failed" in log
    assert "the fake model crashed" in page.find_element(By.ID, "answer").text


def test_a_refused_upload_says_why_and_starts_no_run(page, server, tmp_path):
    from selenium.webdriver.common.by import By

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"these bytes are no picture")
    refused = httpx.post(server.base_url + "/v1/files", headers={"Authorization": f"Bearer {KEY}"},
                         files={"file": ("broken.png", broken.read_bytes(), "image/png")})
    assert refused.status_code == 400
    before = run_count(server)
    page.find_element(By.ID, "prompt").send_keys("What is in this photo?")
    page.find_element(By.ID, "files").send_keys(str(broken))
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "run-error").text)
    # the server's reason from its JSON error, in words, naming the file
    assert page.find_element(By.ID, "run-error").text == \
        f"The upload of broken.png failed: {refused.json()['error']['message']}"
    assert page.find_element(By.ID, "run-status").text == "not started"
    assert not page.find_elements(By.CSS_SELECTOR, "#plan .node")
    assert run_count(server) == before


def test_a_workflow_without_its_required_file_says_so_and_starts_no_run(page, server, tmp_path):
    import time

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    before = run_count(server)
    page.find_element(By.CSS_SELECTOR, ".tab[data-tab=workflow]").click()
    Select(page.find_element(By.ID, "workflow")).select_by_value("describe_fake")
    page.find_element(By.ID, "run-workflow").click()
    message = page.find_element(By.ID, "workflow-error")
    wait(page, lambda d: message.text)
    assert message.is_displayed()
    assert message.text == "Choose a file for image (image): the workflow needs it."
    image = page.find_element(By.CSS_SELECTOR, "#workflow-inputs input[name=image]")
    assert image.get_attribute("aria-invalid") == "true"
    time.sleep(1)  # a run the page started would be on the server by now
    assert run_count(server) == before
    assert not page.find_element(By.ID, "run").is_displayed()
    # with the file chosen the message goes and the run starts
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), (0, 200, 0)).save(photo)
    image.send_keys(str(photo))
    page.find_element(By.ID, "run-workflow").click()
    wait(page, lambda d: node_states(d) == {"caption": "done", "say": "done"})
    assert not message.text
    assert run_count(server) == before + 1


def assert_every_kind_of_output(page):
    """The boxes of EVERY_KIND, done: each shows its time and what it produced."""
    import re

    from selenium.webdriver.common.by import By

    for task in ("paint", "look", "film", "say"):
        assert re.fullmatch(r"(done|cached) · \d+\.\d\d s",
                            node(page, task).find_element(By.CSS_SELECTOR, ".state").text)
    # a long text is cut short; the whole of it is on hover and a click away
    note = node(page, "paint").find_element(By.CSS_SELECTOR, ".output")
    whole = "a square of teal paint, " + ", ".join(f"stroke {n}" for n in range(30))
    assert note.text.endswith("…") and len(note.text) < len(whole) and \
        whole.startswith(note.text[:-1])
    assert note.get_attribute("title") == whole
    note.click()
    assert note.text == whole
    assert node(page, "look").find_element(By.CSS_SELECTOR, ".output").text == "a 16x16 picture"
    # the media play in their boxes
    wait(page, lambda d: media_ready(d, "#plan .node[data-task=paint] .media img"))
    assert node(page, "paint").find_element(By.CSS_SELECTOR, ".media img").is_displayed()
    assert page.execute_script("return document.querySelector("
                               "'#plan .node[data-task=paint] .media img').naturalWidth") == 16
    wait(page, lambda d: media_ready(d, "#plan .node[data-task=film] .media video"))
    assert page.execute_script("return document.querySelector("
                               "'#plan .node[data-task=film] .media video').duration") == \
        pytest.approx(1.0, abs=0.2)
    wait(page, lambda d: media_ready(d, "#plan .node[data-task=say] .media audio"))
    for task, tag in (("film", "video"), ("say", "audio")):
        player = node(page, task).find_element(By.CSS_SELECTOR, f".media {tag}")
        assert player.is_displayed() and player.get_attribute("controls") is not None


def test_each_step_shows_what_it_produced_and_does_again_when_reopened(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please paint and film")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: set(node_states(d).values()) <= {"done", "cached"} and
         len(node_states(d)) == 4)
    assert_every_kind_of_output(page)
    page.refresh()  # reopened from the history: the boxes fill from the stored events
    wait(page, lambda d: d.find_element(By.ID, "app").is_displayed())
    entry = wait(page, lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#runs button")
                                  if "Please paint and film" in b.text])
    entry[0].click()
    wait(page, lambda d: len(node_states(d)) == 4 and
         d.find_element(By.ID, "run-status").text == "completed")
    assert_every_kind_of_output(page)


def test_a_step_over_a_list_shows_each_item(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please paint each colour")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: node_states(d) == {"paint": "done", "look": "done"})
    assert node(page, "look").find_element(By.CSS_SELECTOR, ".output").text == \
        "1. a 16x16 picture 2. a 16x16 picture"
    wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                             "#plan .node[data-task=paint] .media img")) == 2)


def test_choosing_files_previews_them_before_the_run(page, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from mmagent.artifacts._video import write_mp4

    photo, speech, clip = tmp_path / "photo.png", tmp_path / "speech.wav", tmp_path / "clip.mp4"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(photo)
    speech.write_bytes(wav_bytes(seconds=0.5))
    clip.write_bytes(write_mp4([np.full((16, 16, 3), 40 * n, np.uint8) for n in range(4)], 4))
    before = run_count(server)
    page.find_element(By.ID, "files").send_keys("\n".join(map(str, (photo, speech, clip))))
    figures = page.find_elements(By.CSS_SELECTOR, "#files-preview figure")
    sizes = {f: os.path.getsize(f) for f in (photo, speech, clip)}
    assert [f.find_element(By.TAG_NAME, "figcaption").text for f in figures] == [
        f"photo.png · {sizes[photo]} B", f"speech.wav · {sizes[speech] / 1024:.1f} KB",
        f"clip.mp4 · {sizes[clip] / 1024:.1f} KB"]
    for n, tag in enumerate(("img", "audio", "video"), 1):
        selector = f"#files-preview figure:nth-child({n}) {tag}"
        wait(page, lambda d, s=selector: media_ready(d, s))
        assert page.find_element(By.CSS_SELECTOR, selector).is_displayed()
    assert page.execute_script("return document.querySelector('#files-preview img')"
                               ".naturalWidth") == 32
    assert page.execute_script("return document.querySelector('#files-preview audio')"
                               ".duration") == pytest.approx(0.5, abs=0.05)
    # the workflow form's file inputs preview theirs
    page.find_element(By.CSS_SELECTOR, ".tab[data-tab=workflow]").click()
    Select(page.find_element(By.ID, "workflow")).select_by_value("describe_fake")
    page.find_element(By.CSS_SELECTOR, "#workflow-inputs input[name=image]").send_keys(str(photo))
    preview = page.find_element(By.CSS_SELECTOR, "#workflow-inputs .previews figure")
    wait(page, lambda d: media_ready(d, "#workflow-inputs .previews img"))
    assert preview.is_displayed() and preview.text == f"photo.png · {sizes[photo]} B"
    # nothing was sent
    assert run_count(server) == before
    assert not page.find_element(By.ID, "run").is_displayed()


def test_a_one_step_plan_is_one_small_box(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please echo lime")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "approval").is_displayed())
    page.find_element(By.ID, "approve").click()
    wait(page, lambda d: node_states(d) == {"t1": "done"})
    box = page.execute_script(
        "const r = document.querySelector('#plan .node[data-task=t1]').getBoundingClientRect();"
        "return {width: r.width, height: r.height, vw: innerWidth, vh: innerHeight}")
    # a box of its own size, not one stretched over the card
    assert 150 <= box["width"] <= box["vw"] / 4 and box["height"] <= box["vh"] / 5
    label = node(page, "t1").find_element(By.CSS_SELECTOR, ".label")
    assert label.text == "t1 · fake_sleep" and label.value_of_css_property("font-size") == "13.6px"
    assert node(page, "t1").find_element(By.CSS_SELECTOR, ".output").text == "lime"


def node_boxes(page) -> list[dict]:
    return page.execute_script(
        "return [...document.querySelectorAll('#plan .node[data-task]')].map(n => {"
        "const r = n.getBoundingClientRect(); const l = n.querySelector('.label');"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,"
        " font: parseFloat(getComputedStyle(l).fontSize), cut: l.scrollWidth > l.clientWidth}})")


def test_a_wide_plan_wraps_into_rows_of_readable_boxes(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please paint a dozen")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: len(node_states(d)) == 12 and
         set(node_states(d).values()) <= {"done", "cached"})
    wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#plan .node .media img")) == 12)
    for width in (1280, 390):
        page.set_window_size(width, 900)
        try:
            wait(page, lambda d, w=width: d.execute_script("return window.innerWidth") <= w)
            boxes = node_boxes(page)
            page_width = page.execute_script("return document.documentElement.clientWidth")
            assert all(b["right"] <= page_width for b in boxes)  # wrapped, not cut off
            assert page.execute_script("return document.documentElement.scrollWidth") <= page_width
            assert all(b["font"] >= 13 and not b["cut"] for b in boxes)  # labels readable
            for i, a in enumerate(boxes):  # no box covers another
                for b in boxes[i + 1:]:
                    assert a["right"] <= b["left"] or b["right"] <= a["left"] or \
                        a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
            rows = sorted({round(b["top"]) for b in boxes})
            assert len(rows) > 1
            if width == 1280:
                assert len(rows) < 12  # several boxes to a row
        finally:
            page.set_window_size(1280, 900)


def test_run_history_survives_a_reload_and_reopens_cancels_and_reruns(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please echo quince")
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "approval").is_displayed())
    page.refresh()  # the key stays in this tab; the runs come from GET /v1/runs
    wait(page, lambda d: d.find_element(By.ID, "app").is_displayed())

    def entry(d):
        found = [b for b in d.find_elements(By.CSS_SELECTOR, "#runs button")
                 if "Please echo quince" in b.text]
        return found[0] if found else None

    assert not page.find_element(By.ID, "run").is_displayed()
    wait(page, entry)
    before = len(page.find_elements(By.CSS_SELECTOR, "#runs button"))
    assert entry(page).get_attribute("data-status") == "awaiting_approval"
    entry(page).click()  # reopen: its events replay, the plan and the approval come back
    wait(page, lambda d: d.find_element(By.ID, "approval").is_displayed())
    assert node_states(page) == {"t1": "waiting"}
    page.find_element(By.ID, "cancel").click()
    wait(page, lambda d: d.find_element(By.ID, "run-status").text == "cancelled")
    wait(page, lambda d: entry(d).get_attribute("data-status") == "cancelled")
    assert page.find_element(By.ID, "cancel").is_displayed() is False
    page.find_element(By.ID, "rerun").click()  # the same prompt, a new run
    wait(page, lambda d: d.find_element(By.ID, "approval").is_displayed())
    wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs button")) == before + 1)


def test_a_run_waiting_for_its_client_is_cancelled_from_the_page(page, server):
    from selenium.webdriver.common.by import By

    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}
    messages = [{"role": "user", "content": "What is the weather in Oslo?"}]
    chat = httpx.post(server.base_url + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "mmagent", "messages": messages, "tools": [weather]}).json()
    (call,) = chat["choices"][0]["message"]["tool_calls"]
    page.refresh()
    wait(page, lambda d: d.find_element(By.ID, "app").is_displayed())

    def entry(d):
        found = [b for b in d.find_elements(By.CSS_SELECTOR, "#runs button")
                 if "weather in Oslo" in b.text]
        return found[0] if found else None

    wait(page, entry)
    assert entry(page).get_attribute("data-status") == "awaiting_client"
    entry(page).click()
    wait(page, lambda d: d.find_element(By.ID, "run-status").text == "awaiting client")
    assert call["id"] in page.find_element(By.ID, "answer").text
    page.find_element(By.ID, "cancel").click()
    wait(page, lambda d: d.find_element(By.ID, "run-status").text == "cancelled")
    # the client's late answer resumes nothing: the run stays cancelled
    messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "snow"}]
    late = httpx.post(server.base_url + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "mmagent", "messages": messages, "tools": [weather]})
    assert late.status_code == 409 and "cancelled" in late.json()["error"]["message"]
    wait(page, lambda d: entry(d).get_attribute("data-status") == "cancelled")


def test_a_phone_wide_page_does_not_overflow(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "prompt").send_keys("Please fail")  # a plan, a log, an answer
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: d.find_element(By.ID, "run-status").text not in ("", "running"))
    page.set_window_size(390, 844)
    try:
        wait(page, lambda d: d.execute_script("return window.innerWidth") <= 390)
        assert page.execute_script(
            "return document.documentElement.scrollWidth") <= page.execute_script(
            "return window.innerWidth")
    finally:
        page.set_window_size(1280, 900)
