"""Security fixtures: the admin app (Flask test client, private demo database) reused from tests/admin."""

from __future__ import annotations

from tests.admin.conftest import Admin, admin, app, push, rt, token  # noqa: F401
from tests.push.conftest import db_url, demo_templates, fake, pg_template, redis_url  # noqa: F401
