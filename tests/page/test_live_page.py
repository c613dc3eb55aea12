"""The live page at GET /, loaded in a real browser against the real service."""
import os
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from selenium.webdriver.common.by import By

from offload_service import start, stop

SCREENSHOT = os.environ.get("PAGE_SCREENSHOT")


def wait_for(condition, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def counters(browser):
    return {status: browser.find_element(By.ID, "count-" + status).text
            for status in ["queued", "running", "completed", "failed"]}


def bars(browser, *statuses):
    selector = ", ".join(f'#timeline .job[data-status="{status}"]' for status in statuses)
    return browser.find_elements(By.CSS_SELECTOR, selector)


def submit(base, count, body="job"):
    """Puts `count` jobs on the device at once (respond-async: each answer comes at once)."""
    def one(index):
        reply = requests.post(base + "/encrypt", data=f"{body} {index}".encode(),
                              headers={"Prefer": "respond-async"}, timeout=10)
        assert reply.status_code == 202, reply.text
        return reply.json()["id"]
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def test_in_flight_jobs_appear_and_the_counters_match_the_api(browser, tmp_path):
    process, base = start(["--device-latency", "1s"])
    try:
        browser.get(base + "/")
        assert wait_for(lambda: browser.find_element(By.ID, "connection").get_attribute("data-state") == "live")
        header = requests.get(base + "/", timeout=10).headers["Content-Security-Policy"]
        assert "script-src 'self'" in header and "default-src 'none'" in header
        ids = submit(base, 100)
        # The page polls every second; ask it now rather than race the jobs' one second.
        browser.execute_script("poll()")
        in_flight = wait_for(lambda: len(bars(browser, "queued", "running")) >= 100, timeout=0.9)
        shown = counters(browser)
        listed = requests.get(base + "/jobs?limit=1", timeout=10).json()["counts"]
        if SCREENSHOT:
            browser.save_screenshot(SCREENSHOT)
        assert in_flight, f"{len(bars(browser, 'queued', 'running'))} jobs in flight on the page, not 100"
        assert int(shown["running"]) + int(shown["queued"]) == 100
        assert listed["running"] + listed["queued"] == 100 or listed["completed"] > 0
        # Then the page refreshes by itself as the device completes them.
        assert wait_for(lambda: counters(browser)["completed"] == "100", timeout=10)
        listed = requests.get(base + "/jobs?limit=1", timeout=10).json()["counts"]
        assert counters(browser) == {status: str(listed[status]) for status in counters(browser)}
        assert len(bars(browser, "completed")) == 100
        # It never shows an output.
        output = requests.get(base + "/jobs/" + ids[0], timeout=10).json()["output_hex"]
        assert output not in browser.page_source
        browser.save_screenshot(str(tmp_path / "live-page.png"))
    finally:
        stop(process)


def test_failed_jobs_are_marked_with_their_error_code(browser):
    process, base = start(["--device-error-rate", "1"])
    try:
        for index in range(3):
            assert requests.post(base + "/encrypt", data=b"x%d" % index, timeout=10).status_code == 502
        browser.get(base + "/")
        assert wait_for(lambda: len(bars(browser, "failed")) == 3)
        codes = browser.find_elements(By.CSS_SELECTOR, "#timeline .job.failed .code")
        assert [code.text for code in codes] == ["device_error"] * 3
        assert counters(browser)["failed"] == "3"
    finally:
        stop(process)


def test_a_page_left_open_across_a_restart_says_so_and_recovers(browser):
    process, base = start([])
    port = int(base.rsplit(":", 1)[1])
    try:
        browser.get(base + "/")
        assert wait_for(lambda: browser.find_element(By.ID, "connection").get_attribute("data-state") == "live")
    finally:
        stop(process)
    assert wait_for(lambda: browser.find_element(By.ID, "connection").get_attribute("data-state") == "disconnected")
    process, base = start([], port=port)
    try:
        requests.post(base + "/encrypt", data=b"after the restart", timeout=10)
        assert wait_for(lambda: browser.find_element(By.ID, "connection").get_attribute("data-state") == "live")
        assert wait_for(lambda: counters(browser)["completed"] == "1")
    finally:
        stop(process)


def test_with_auth_the_page_asks_for_the_token_and_keeps_it_for_the_tab_only(browser, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("page-token-0123456789abcdef\n")
    token_file.chmod(0o600)
    process, base = start(["--auth-token-file", str(token_file)])
    try:
        assert requests.get(base + "/stats", timeout=10).status_code == 401
        browser.get(base + "/")
        form = browser.find_element(By.ID, "token-form")
        assert wait_for(lambda: form.is_displayed())
        browser.find_element(By.ID, "token").send_keys("page-token-0123456789abcdef")
        form.submit()
        assert wait_for(lambda: browser.find_element(By.ID, "connection").get_attribute("data-state") == "live")
        assert not form.is_displayed()
        stored = browser.execute_script(
            "return [sessionStorage.getItem('offload-http-token'), localStorage.length, document.cookie]")
        assert stored == ["page-token-0123456789abcdef", 0, ""]
    finally:
        browser.execute_script("sessionStorage.clear()")
        stop(process)


def test_ten_thousand_retained_jobs_draw_a_bounded_window(browser):
    process, base = start(["--device-latency", "0"])
    try:
        batch = {"batch": [{"input": "x"}] * 1000}
        for _ in range(10):
            assert requests.post(base + "/encrypt", json=batch, timeout=60).status_code == 200
        started = time.monotonic()
        browser.get(base + "/")
        assert wait_for(lambda: counters(browser)["completed"] == "10000")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline .job")) == 150
        assert time.monotonic() - started < 10
    finally:
        stop(process)
