"""Journeys of issue 3: log a session, see the countdown, an early session, history, delete."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from e2e.support import SCREENSHOTS, check_page, register
from webapp.extensions import db
from webapp.models import NeedlingSession, User

START = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def chip(page: Page, text: str):
    return page.locator("label.choice").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def test_first_session_countdown_early_override_history_and_delete(page: Page, live_server):
    live_server.clock.freeze(START)
    register(page)
    expect(page.get_by_role("heading", name="Start with your first session")).to_be_visible()

    # A first session: 1.5 mm at a clinic, crown and frontal.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    expect(page.get_by_role("heading", name="Log a session", level=1)).to_be_visible()
    chip(page, "1.5 mm").click()
    chip(page, "Crown").click()
    chip(page, "Frontal").click()
    chip(page, "At a clinic").click()
    check_page(page, "log-form")
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", name="Session logged")).to_be_visible()
    expect(page.locator(".saved-next")).to_contain_text(re.compile(r"2[01] d"))
    check_page(page, "log-saved")

    # Today: about 21 days, ticking from the server's (frozen) time, not the phone's.
    page.get_by_role("link", name="See the countdown").click()
    card = page.locator("#countdown-card")
    expect(card.locator("[data-remaining]")).to_have_text(re.compile(r"^(20 d 22 h|20 d 23 h)$"))
    expect(card).to_contain_text("Crown")
    check_page(page, "today-countdown")

    # Two days later the user tries again: remembered choices, one tap on Save -> early screen.
    live_server.clock.travel(timedelta(days=2))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    expect(chip(page, "1.5 mm").locator("input")).to_be_checked()
    expect(chip(page, "Crown").locator("input")).to_be_checked()
    page.get_by_role("button", name="Save session").click()
    # 21 days end at 10:30 on 31 March in Berlin (summer time by then): 18 d 23 h from now.
    expect(page.get_by_role("heading", name=re.compile(r"This is 18 d 23 h early"))).to_be_visible()
    expect(page.get_by_text("convention, not a trial result")).to_be_visible()
    check_page(page, "early-session")
    page.get_by_role("button", name="Log it early anyway").click()
    expect(page.get_by_text("Write a short reason")).to_be_visible()
    page.get_by_label("Your reason for logging it anyway").fill("The clinic booked me in early")
    page.get_by_role("button", name="Log it early anyway").click()
    expect(page.get_by_role("heading", name="Session logged")).to_be_visible()
    expect(page.locator(".saved-card .badge-warn")).to_have_text("Early")

    # History marks it early; the calendar marks both days.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    items = page.locator(".history-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Early · override")
    expect(page.locator(".calendar-grid .has-session")).to_have_count(2)
    check_page(page, "history")

    # Open it and delete it: Undo is offered, and the countdown is back to the first session's wait.
    items.first.get_by_role("link").click()
    expect(page.get_by_text("The clinic booked me in early")).to_be_visible()
    check_page(page, "session-detail")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Session deleted")).to_be_visible()
    expect(page.get_by_role("button", name="Undo")).to_be_visible()
    check_page(page, "session-deleted")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(page.locator("#countdown-card [data-remaining]")).to_have_text(re.compile(r"^(18 d 22 h|18 d 23 h)$"))


def test_countdown_ticks_from_server_time_pauses_for_symptoms_and_gaps_are_guarded(page: Page, live_server):
    # The phone's clock is years off; the countdown must still follow the server.
    page.clock.install(time=datetime(2030, 1, 1, tzinfo=UTC))
    live_server.clock.freeze(START)
    register(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    chip(page, "0.25 mm").click()
    chip(page, "Crown").click()
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", name="Session logged")).to_be_visible()

    # Ten minutes before the 3-day wait ends, the numerals tick down by the second.
    live_server.clock.freeze(START + timedelta(days=3, minutes=-10))
    page.get_by_role("link", name="See the countdown").click()
    big = page.locator("#countdown-card [data-remaining]")
    expect(big).to_have_text(re.compile(r"^(10 min 0 s|9 min \d+ s)$"))
    first = big.inner_text()
    expect(big).not_to_have_text(first)
    expect(big).to_have_text(re.compile(r"^9 min \d+ s$"))

    # Coming back to the page asks the server again at once.
    live_server.clock.freeze(START + timedelta(days=3, minutes=5))
    with page.expect_request(re.compile(r"/countdown$")):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(big).to_have_text("Ready now")
    expect(page.locator("#countdown-card")).to_contain_text("Your usual areas have healed")

    # A symptom pauses the countdown and suggests a dermatologist, until it is resolved.
    page.get_by_text("Scalp red, sore or infected?").click()
    chip(page, "Pain").click()
    page.get_by_role("button", name="Pause the countdown").click()
    card = page.locator("#countdown-card")
    expect(card).to_contain_text("Countdown paused")
    expect(card).to_contain_text("dermatologist")
    check_page(page, "today-paused")
    page.get_by_role("button", name="Resolved").click()
    expect(card.locator("[data-remaining]")).to_have_text("Ready now")

    # Why this wait?
    card.get_by_role("link", name="Why this wait?").click()
    expect(page.get_by_role("heading", name="Why this wait?", level=1)).to_be_visible()
    expect(page.get_by_text("Convention, not a trial result.")).to_be_visible()
    check_page(page, "why-wait")

    # Settings: a wait below the floor is refused with the reason; a longer one is kept.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    field = page.get_by_label("0.25 mm or shorter")
    field.fill("1")
    page.get_by_role("button", name="Save waits").click()
    expect(page.get_by_text("need at least 2 days between them")).to_be_visible()
    expect(field).to_have_value("1")
    check_page(page, "settings-gaps-error")
    page.get_by_label("0.25 mm or shorter").fill("5")
    page.get_by_role("button", name="Save waits").click()
    expect(page.get_by_text("Waits saved")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(page.locator("#countdown-card [data-remaining]")).to_have_text(re.compile(r"^1 d 23 h$"))
    page.emulate_media(color_scheme="dark")
    page.reload()  # a fresh paint, not the light-to-dark transition
    expect(page.locator("#countdown-card [data-remaining]")).to_have_text(re.compile(r"^1 d 23 h$"))
    check_page(page, "today-countdown-dark")


def test_errors_keep_input_home_warning_edit_and_undo(page: Page, live_server):
    live_server.clock.freeze(START)
    register(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    # Nothing chosen, an absurd pain and a date next week: every problem is named beside its field.
    page.get_by_text("When, skin, pain, notes").click()
    page.get_by_label("Pain, 0 to 10 (optional)").fill("11")
    page.get_by_label("Date and time").fill("2026-03-17T10:30")
    page.get_by_label("Notes (optional)").fill("Tried the new serum-free routine")
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_text("Choose the needle length.")).to_be_visible()
    expect(page.get_by_text("Choose at least one area you treated.")).to_be_visible()
    expect(page.get_by_text("Pain is a number from 0 to 10.")).to_be_visible()
    expect(page.get_by_text("That time is in the future")).to_be_visible()
    expect(page.get_by_label("Notes (optional)")).to_have_value("Tried the new serum-free routine")
    check_page(page, "log-errors")

    # A 0.5 mm needle at home: the warning comes before anything is saved.
    page.get_by_label("Pain, 0 to 10 (optional)").fill("2")
    page.get_by_label("Date and time").fill("2026-03-10T10:00")
    chip(page, "0.5 mm").click()
    chip(page, "Mid-scalp").click()
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", name="A 0.5 mm needle at home?")).to_be_visible()
    expect(page.get_by_text("not recommended at home")).to_be_visible()
    check_page(page, "home-warning")
    page.get_by_role("button", name="Change the session").click()
    expect(chip(page, "0.5 mm").locator("input")).to_be_checked()
    expect(page.get_by_label("Notes (optional)")).to_have_value("Tried the new serum-free routine")
    chip(page, "0.25 mm").click()
    page.get_by_text("Add a new device").click()
    chip(page, "Roller").click()
    page.get_by_label("Name (optional)").fill("Blue roller")
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", name="Session logged")).to_be_visible()

    # Edit it from the history, then delete and undo.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.locator(".history-item").first.get_by_role("link").click()
    expect(page.get_by_text("Roller · Blue roller")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit session", level=1)).to_be_visible()
    expect(page.locator("label.choice").filter(has_text="Blue roller").locator("input")).to_be_checked()
    chip(page, "Crown").click()
    check_page(page, "edit-session")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Session updated")).to_be_visible()
    page.locator("#log-panel").get_by_role("link", name="History").click()
    expect(page.locator(".history-item").first).to_contain_text("Mid-scalp, Crown")
    page.locator(".history-item").first.get_by_role("link").click()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(page.locator("#countdown-card [data-remaining]")).to_have_text(re.compile(r"^2 d 23 h$"))


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_history_loads_older_sessions_as_the_list_scrolls(page: Page, live_server):
    live_server.clock.freeze(START)
    email = register(page)
    with live_server.app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        for i in range(26):
            db.session.add(NeedlingSession(
                user_id=user.id, client_id=f"seed-{uuid.uuid4()}", needle_mm=Decimal("0.25"), location="home",
                areas=["crown"], performed_at=START - timedelta(days=3 * i + 3)))
        db.session.commit()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    items = page.locator(".history-item")
    expect(items).to_have_count(20)
    items.nth(19).scroll_into_view_if_needed()
    page.locator(".history-more").scroll_into_view_if_needed()
    expect(items).to_have_count(26)
    expect(page.locator(".history-more")).to_have_count(0)
    expect(items.last).to_contain_text("Mon 22 Dec")  # the oldest: 78 days before 10 March


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_health_profile_warns_on_the_log_form_before_saving(page: Page, live_server):
    live_server.clock.freeze(START)
    register(page)

    # Settings → Health profile: isotretinoin two months ago, and blood thinners.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings sections").get_by_role("link", name="Health").click()
    health = page.locator("#health")
    expect(health.get_by_label("Date of the last dose")).to_be_hidden()
    chip(page, "Isotretinoin (Accutane) in the last 6 months").click()
    health.get_by_label("Date of the last dose").fill("2026-01-15")
    chip(page, "I take blood thinners").click()
    health.get_by_role("button", name="Save health profile").click()
    expect(health.get_by_text("Health profile saved")).to_be_visible()
    expect(health.get_by_label("Date of the last dose")).to_have_value("2026-01-15")
    health.scroll_into_view_if_needed()
    check_page(page, "settings-health")
    health.screenshot(path=str(SCREENSHOTS / "settings-health-card--Pixel-7.png"))
    expect(page.locator("#gaps")).to_contain_text("Convention, not a trial result. Why?")

    # The Log form shows both warnings before anything is saved; they don't block.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    warnings = page.locator("[data-health-warnings]")
    expect(warnings.get_by_role("heading", name="Before you needle")).to_be_visible()
    expect(warnings).to_contain_text("Isotretinoin in the last 6 months")
    expect(warnings).to_contain_text("15 January 2026")
    expect(warnings).to_contain_text("You take blood thinners")
    expect(warnings).to_contain_text("warnings, not blocks")
    check_page(page, "log-health-warning")
    chip(page, "0.25 mm").click()
    chip(page, "Crown").click()
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", name="Session logged")).to_be_visible()
    expect(page.locator(".saved-card")).to_contain_text("Sterilise it now")
    check_page(page, "log-saved-sterilise")

    # Today: the countdown line says what the wait is, with the link to Why, and Why names the profile.
    page.get_by_role("link", name="See the countdown").click()
    card = page.locator("#countdown-card")
    expect(card.locator(".convention-note")).to_have_text("Convention, not a trial result. Why?")
    check_page(page, "today-countdown-line")
    card.screenshot(path=str(SCREENSHOTS / "today-countdown-card--Pixel-7.png"))
    card.locator(".convention-note").get_by_role("link", name="Why?").click()
    expect(page.get_by_role("heading", name="Why this wait?", level=1)).to_be_visible()
    expect(page.locator("[data-profile-applies]")).to_contain_text(
        "Isotretinoin in the last 6 months; You take blood thinners")
    check_page(page, "why-health")
