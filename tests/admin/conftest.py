"""Admin fixtures: the Flask app on a private demo database, a logged-in client, the embedded push queue."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.app import create_app
from bot.push import PushContext, PushService, get_push
from bot.runtime import Runtime
from bot.web.admin.auth import create_coordinator_login
from tests.conftest import REQUIRE
from tests.fakes.push_apis import FakeApis
from tests.loopback import serving
from tests.push.conftest import (  # noqa: F401 - fixtures and the collection hook, shared with tests/push
    backend,
    db_url,
    demo_templates,
    fake,
    job_queue,
    pg_template,
    pytest_collection_modifyitems,
    redis_url,
    runtime_on,
)

PASSWORD = "correct-horse-battery"


@pytest.fixture
def rt(db_url: str, fake: FakeApis, backend: str, request: pytest.FixtureRequest) -> Iterator[Runtime]:  # noqa: F811
    """On the in-process queue and store, and (test_admin.py) on real Redis and RQ."""
    with runtime_on(backend, db_url, fake.url, request) as runtime:
        with runtime.sessions.begin() as s:
            create_coordinator_login(s, username="wangxy", password=PASSWORD)  # 阳光社区志愿服务队 (leader)
            create_coordinator_login(s, username="batu", password=PASSWORD)  # 西乌旗草原志愿服务队
            create_coordinator_login(s, username="ops", password=PASSWORD, name="运营", operator=True)
        yield runtime


@pytest.fixture
def push(rt: Runtime) -> PushService:
    return get_push(rt, PushContext.build(rt, queue=job_queue(rt)))


@pytest.fixture
def app(rt: Runtime, push: PushService) -> Flask:
    return create_app(runtime=rt)


def token(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no CSRF token on the page"
    return m.group(1)


class Admin:
    """A test client that logs in and posts forms with the page's CSRF token, like a browser."""

    def __init__(self, client: FlaskClient) -> None:
        self.c = client
        self.csrf = ""

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.c.get("/admin/login").text
        r = self.c.post("/admin/login", data={"csrf": token(page), "username": username, "password": password})
        if r.status_code == 302:
            self.csrf = token(self.c.get("/admin/").text)
        return r

    def get(self, path: str, **kw: Any) -> Any:
        return self.c.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.c.post(path, data={"csrf": self.csrf, **(data or {})}, **kw)


@pytest.fixture
def admin(app: Flask) -> Admin:
    a = Admin(app.test_client())
    assert a.login("wangxy").status_code == 302
    return a


# -- a real browser ---------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    """The app over real HTTP on loopback, for the browser."""
    with serving(app) as url:
        yield url


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`chromium(*extra_args)` starts Debian's headless chromium through chromium-driver (no browser
    download), quit after the test. Skipped where they are not installed; CI requires them."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        if REQUIRE:
            pytest.fail("chromium and chromium-driver are required in CI")
        pytest.skip("chromium / chromium-driver not installed")
    if not REQUIRE:
        pytest.importorskip("selenium.webdriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    started: list[Any] = []

    def start(*extra: str) -> Any:
        opts = Options()
        opts.binary_location = CHROMIUM
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    f"--user-data-dir={tmp_path / f'profile{len(started)}'}", "--lang=zh-CN", *extra):
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        started.append(driver)
        driver.set_page_load_timeout(20)
        return driver

    yield start
    for driver in started:
        driver.quit()
