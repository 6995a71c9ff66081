"""One real headless Chromium (Debian's chromium + chromium-driver, no browser download): log in,
see the activities, open one, screenshot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_log_in_and_see_activities_in_headless_chromium(live: str, chromium: Callable[..., Any],
                                                         tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium("--window-size=412,915")

    def follow(element: Any, wait_for: tuple[str, str]) -> Any:
        """Click, wait until the old page is gone and the new one shows `wait_for`, return that element.

        Reading right after a click can still see the old page (or an element of it that goes stale)."""
        old = driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(driver, 20).until(ec.staleness_of(old))
        return WebDriverWait(driver, 20).until(ec.presence_of_element_located(wait_for))

    driver.get(f"{live}/admin/")
    assert "协调员登录" in driver.page_source
    driver.find_element(By.ID, "username").send_keys("wangxy")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    h1 = follow(driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"), (By.TAG_NAME, "h1"))
    assert "您好" in h1.text
    follow(driver.find_element(By.LINK_TEXT, "活动"), (By.CSS_SELECTOR, "tbody tr"))
    rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert rows and "阳光社区志愿服务队" in driver.page_source
    size = driver.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 18  # large text on a phone-sized window
    assert follow(rows[0].find_element(By.TAG_NAME, "a"), (By.ID, "last4"))  # the check-in box is there
    shot = tmp_path / "activities.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 5000
