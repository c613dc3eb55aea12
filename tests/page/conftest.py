"""A headless Chromium (Debian's chromium and chromium-driver) driven through selenium."""
import os
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_browser():
    """Headless Chromium through Debian's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1100", "--hide-scrollbars"]:
        options.add_argument(argument)
    # The driver comes from Debian's package: selenium must not try to download one.
    return webdriver.Chrome(service=DriverService(executable_path="/usr/bin/chromedriver"), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = make_browser()
    try:
        yield driver
    finally:
        driver.quit()
