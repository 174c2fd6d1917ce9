"""The web page at `/`, driven in a real headless Chromium (Debian's chromium and
chromium-driver, through selenium): key prompt, upload, plan graph, steps, media, download
links, a workflow form, and an approval."""

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.serving.conftest import fake_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (make system-deps installs them)")
KEY = "sk-web-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Fake tools and a planner without a model; `fake_sleep` (plain prompts) needs approval."""
    with fake_server(tmp_path_factory.mktemp("web"), serving={"api_keys": [KEY]},
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
        "return Object.fromEntries([...document.querySelectorAll('#plan g.node')]"
        ".map(g => [g.dataset.task, g.dataset.status]))")


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
    labels = [t.text for t in page.find_elements(By.CSS_SELECTOR, "#plan g.node text")]
    assert "t1 · fake_caption" in labels and "t2 · fake_speak" in labels
    assert page.find_elements(By.CSS_SELECTOR, "#plan g.input") and \
        len(page.find_elements(By.CSS_SELECTOR, "#plan path.edge")) == 2
    wait(page, lambda d: "a 32x24 picture" in d.find_element(By.ID, "answer").text)
    assert page.find_element(By.ID, "run-status").text == "completed"
    # the speech plays inline
    wait(page, lambda d: d.execute_script(
        "const a = document.querySelector('#artifacts audio');"
        "return a !== null && !a.paused && a.currentTime > 0"))
    link = page.find_element(By.CSS_SELECTOR, "#artifacts figure[data-kind=audio] a")
    assert link.get_attribute("download") == "t2-audio.wav"
    assert link.get_attribute("href").startswith("blob:")
    if os.environ.get("MMAGENT_WEB_SCREENSHOT"):  # docs/web.png: see the README
        page.save_screenshot(str(Path(os.environ["MMAGENT_WEB_SCREENSHOT"]).resolve()))


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
    assert page.execute_script("return document.querySelector("
                               "'#plan g.node[data-task=t1]').dataset.progress") == "4/4"
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
    log = page.find_element(By.ID, "log").text
    assert "t1 fake_fail failed" in log and "re-planned after t1 failed" in log
    assert "the fake model crashed" in page.find_element(By.ID, "answer").text
