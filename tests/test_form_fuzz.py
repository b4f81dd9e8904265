"""Odd and overlong values in every form field: a clear 4xx, never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import PASSWORD

odd_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.sampled_from(["", " ", "\x00", "../../etc/passwd", "<script>alert(1)</script>",
                     "' OR 1=1 --", "🧴" * 500, "a@b", "x" * 255 + "@example.com", "NaN", "-1"]),
)

FORMS = {
    "/register": ("email", "password", "timezone"),
    "/login": ("email", "password"),
    "/settings/timezone": ("timezone",),
    "/settings/password": ("current_password", "new_password"),
}

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("path", sorted(FORMS))
@FUZZ
@given(data=st.data())
def test_form_fields_never_500(auth_client, path, data):
    form = {name: data.draw(odd_text, label=name) for name in FORMS[path]}
    if path in ("/register", "/login"):
        auth_client.post("/logout")
    resp = auth_client.post(path, data=form)
    assert resp.status_code < 500, (path, form)
    if path in ("/register", "/login"):
        # Log the fuzzing client back in for the next example.
        auth_client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})


@FUZZ
@given(field=st.sampled_from(["email", "password", "timezone", "extra"]),
       value=st.lists(st.text(max_size=20), min_size=2, max_size=4))
def test_repeated_fields_never_500(client, field, value):
    resp = client.post("/register", data={field: value})
    assert resp.status_code < 500
