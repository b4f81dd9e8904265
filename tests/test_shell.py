"""The shell: partials for htmx, whole pages otherwise, security headers, friendly errors."""

from __future__ import annotations

import pytest

from tests.support import htmx, text_of

PAGES = ["/", "/log", "/photos", "/history", "/settings"]


@pytest.mark.parametrize("path", PAGES)
def test_full_page_has_shell_and_bottom_nav(auth_client, path):
    resp = auth_client.get(path)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.startswith("<!doctype html>")
    assert 'id="tabbar"' in html
    for label in ("Today", "Log", "Photos", "History", "Settings"):
        assert f"<span>{label}</span>" in html
    assert html.count('aria-current="page"') == 1
    assert "HX-Request" in resp.headers["Vary"]


@pytest.mark.parametrize("path", PAGES)
def test_htmx_navigation_gets_the_partial(auth_client, path):
    resp = auth_client.get(path, headers=htmx(**{"HX-Boosted": "true", "HX-Target": "main"}))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<html" not in html and "<head>" not in html
    assert "<title>" in html
    assert 'hx-swap-oob="true"' in html  # the tab bar follows the page
    assert "HX-Request" in resp.headers["Vary"]


def test_history_restore_gets_the_whole_page(auth_client):
    resp = auth_client.get("/settings", headers=htmx(**{"HX-History-Restore-Request": "true"}))
    assert resp.get_data(as_text=True).startswith("<!doctype html>")


def test_active_tab_follows_the_page(auth_client):
    html = auth_client.get("/photos").get_data(as_text=True)
    active = html.split('aria-current="page"')[0].rsplit("<a ", 1)[1]
    assert 'href="/photos"' in active


def test_security_headers_on_every_response(client, auth_client):
    for c, path in ((client, "/login"), (auth_client, "/"), (client, "/healthz"),
                    (client, "/nope"), (client, "/static/css/app.css")):
        resp = c.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"


def test_pages_carry_no_inline_script_or_style(auth_client):
    for path in PAGES:
        html = auth_client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<script " not in html.replace("<script src=", "")
        assert " style=" not in html and "<style" not in html


def test_missing_csrf_token_is_refused_with_a_clear_page(auth_client):
    resp = auth_client.post("/settings/timezone", data={"timezone": "UTC"}, csrf=False)
    assert resp.status_code == 400
    assert "This form has expired" in text_of(resp)
    assert "Reload the page" in text_of(resp)


def test_missing_csrf_token_on_htmx_goes_to_a_toast_and_keeps_the_form(auth_client):
    resp = auth_client.post("/settings/timezone", data={"timezone": "UTC"}, csrf=False,
                            headers=htmx(**{"HX-Target": "main"}))
    assert resp.status_code == 400
    assert resp.headers["HX-Retarget"] == "#toast"
    assert "This form has expired" in text_of(resp)
    assert "<main" not in resp.get_data(as_text=True)


def test_not_found_page_says_what_to_do(auth_client):
    resp = auth_client.get("/no-such-page")
    assert resp.status_code == 404
    assert "couldn't find that" in text_of(resp)
    assert "Go to Today" in text_of(resp)
    partial = auth_client.get("/no-such-page", headers=htmx(**{"HX-Target": "main"}))
    assert partial.status_code == 404 and "<html" not in partial.get_data(as_text=True)


def test_oversized_request_gets_413(app, auth_client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = auth_client.post("/settings/timezone", data={"timezone": "x" * 4096})
    assert resp.status_code == 413
    assert "too large" in text_of(resp)


def test_server_error_page_is_friendly(app, client):
    app.config["PROPAGATE_UNEXPECTED"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaput")

    resp = client.get("/boom")
    assert resp.status_code == 500
    assert "Something went wrong on our side" in text_of(resp)
    assert "kaput" not in resp.get_data(as_text=True)
    toast = client.get("/boom", headers=htmx(**{"HX-Target": "countdown"}))
    assert toast.status_code == 500 and toast.headers["HX-Retarget"] == "#toast"


def test_forbidden_page(app, client):
    from flask import abort

    @app.get("/forbidden")
    def forbidden():
        abort(403)

    resp = client.get("/forbidden")
    assert resp.status_code == 403 and "isn't allowed" in text_of(resp)


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"ok": True}


def test_ids_beyond_the_database_range_are_404_not_500(auth_client):
    for path in ("/photos/99999999999999999999", "/sessions/2147483648", "/history/more?before=%C2%B9",
                 "/history/more?before=99999999999999999999", "/photos/new?session_id=%D9%A3"):
        assert auth_client.get(path).status_code in (400, 404), path


def test_id_param_takes_ascii_digits_in_range_only():
    from webapp.web import id_param

    assert id_param("42") == 42
    for raw in ("¹", "٣", "-1", "0", "", None, "1e3", "2147483648", " 7"):
        assert id_param(raw) is None, raw
