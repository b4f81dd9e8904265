"""Page-weight budgets, in bytes as served (compressed): they run with every test, not in the benchmark."""

from __future__ import annotations

import re

from tests.support import htmx

FIRST_LOAD_BUDGET = 60 * 1024  # Today: HTML + CSS + JS + icons, photos excluded (issue 8)
GZIP = {"Accept-Encoding": "gzip, deflate, br"}  # what phone browsers send


def assets_of(html: str) -> set[str]:
    """Every same-site file the page pulls in on first load."""
    urls = set(re.findall(r'<link[^>]+href="(/[^"#]+)"', html))
    urls |= set(re.findall(r'<script[^>]+src="(/[^"#]+)"', html))
    urls |= set(re.findall(r'<use href="(/[^"#]+)#', html))
    urls |= set(re.findall(r'<img[^>]+src="(/static/[^"#]+)"', html))
    return urls


def test_today_first_load_fits_the_budget(auth_client):
    page = auth_client.get("/", headers=GZIP)
    assert page.headers["Content-Encoding"] in ("br", "gzip")
    sizes = {"/": len(page.get_data())}
    for url in sorted(assets_of(auth_client.get("/").get_data(as_text=True))):
        resp = auth_client.get(url, headers=GZIP)
        assert resp.status_code == 200, url
        sizes[url] = len(resp.get_data())
    total = sum(sizes.values())
    assert total <= FIRST_LOAD_BUDGET, f"{total} bytes: {sizes}"
    assert any(u.endswith(".css") for u in sizes) and any(u.endswith(".js") for u in sizes)


def test_static_files_are_served_compressed(auth_client):
    html = auth_client.get("/").get_data(as_text=True)
    htmx_url = re.search(r'<script src="(/static/vendor/htmx\.min\.[A-Z0-9]{8}\.js)"', html).group(1)
    resp = auth_client.get(htmx_url, headers=GZIP)
    assert resp.headers["Content-Encoding"] in ("br", "gzip")
    assert len(resp.get_data()) < 20_000


def test_the_page_scripts_are_one_small_file(auth_client):
    html = auth_client.get("/").get_data(as_text=True)
    bundle = re.search(r'<script src="(/static/js/rollwise\.[A-Z0-9]{8}\.js)"', html).group(1)
    resp = auth_client.get(bundle, headers=GZIP)
    assert resp.headers["Content-Encoding"] == "br"
    assert len(resp.get_data()) < 10 * 1024  # eight scripts, minified and compressed together


def test_navigation_partials_are_small(auth_client):
    for path in ("/", "/log", "/photos", "/history"):
        resp = auth_client.get(path, headers={**GZIP, **htmx(**{"HX-Target": "main"})})
        assert len(resp.get_data()) <= 8 * 1024, path


PARTIAL_BUDGET = 8 * 1024  # every htmx partial, as served (issue 8)
PARTIALS = [
    ("/", {"HX-Target": "main"}),
    ("/countdown", {}),
    ("/minoxidil/card", {}),
    ("/photos/latest", {}),
    ("/minoxidil/history", {}),
    ("/log", {"HX-Target": "main"}),
    ("/history", {"HX-Target": "main"}),
    ("/history/calendar", {}),
    ("/history/more?before={before}", {}),
    ("/photos", {"HX-Target": "main"}),
    ("/photos/area/crown", {}),
    ("/photos/compare", {"HX-Target": "main"}),
    ("/photos/timelapse", {"HX-Target": "main"}),
    ("/minoxidil", {"HX-Target": "main"}),
    ("/settings", {"HX-Target": "main"}),
]


def test_every_partial_fits_the_budget_with_years_of_data(app, clock):
    """Years of sessions, doses and photos must not make any partial heavier than 8 KB."""
    from sqlalchemy import select

    from bench import seed
    from webapp.extensions import db
    from webapp.models import NeedlingSession

    user = seed.make_user("years@example.com", password_hash="x")
    seed.seed_user(user, clock(), days=760, sessions=300, photos=100, stages=6, doses=1500)
    before = list(db.session.scalars(select(NeedlingSession.id).where(NeedlingSession.user_id == user.id)
                                     .order_by(NeedlingSession.performed_at.desc()).limit(20)))[-1]
    client = seed.client_for(app, user.id)
    sizes = {}
    for path, extra in PARTIALS:
        url = path.format(before=before)
        resp = client.get(url, headers={**GZIP, **htmx(**extra)})
        assert resp.status_code == 200, url
        sizes[url] = len(resp.get_data())
    assert {u: n for u, n in sizes.items() if n > PARTIAL_BUDGET} == {}, sizes
