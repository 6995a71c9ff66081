"""The session interface makes its signer once per key, and reads cookies exactly as Flask's does."""

from __future__ import annotations

from flask import session

from bot.app import App, SessionCookies


def make_app(key: str) -> App:
    app = App("t")
    app.secret_key = key
    app.session_interface = SessionCookies()

    @app.get("/set")
    def set_() -> str:
        session["cid"] = 7
        return "ok"

    @app.get("/get")
    def get() -> str:
        return str(session.get("cid"))

    return app


def test_signed_cookie_round_trip_and_key_change() -> None:
    app = make_app("first-key-0123456789")
    iface = app.session_interface
    assert isinstance(iface, SessionCookies)
    assert iface.get_signing_serializer(app) is iface.get_signing_serializer(app)
    client = app.test_client()
    assert client.get("/get").get_data(as_text=True) == "None"  # no cookie: an empty session
    assert client.get("/set").headers.get("Set-Cookie", "").startswith("session=")
    assert client.get("/get").get_data(as_text=True) == "7"
    first = iface.get_signing_serializer(app)
    app.secret_key = "second-key-0123456789"  # a cookie signed with another key is not read
    assert iface.get_signing_serializer(app) is not first
    assert client.get("/get").get_data(as_text=True) == "None"
    app.config["SECRET_KEY_FALLBACKS"] = ["first-key-0123456789"]  # unless that key is a fallback
    assert client.get("/get").get_data(as_text=True) == "7"


def test_without_a_secret_key_there_is_no_session() -> None:
    app = make_app("")
    assert app.session_interface.open_session(app, app.test_request_context("/get").request) is None
