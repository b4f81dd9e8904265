"""Helpers for the phone journeys: accounts, layout and accessibility checks, screenshots."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "e2e" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery"


def chromium_executable() -> str | None:
    """PLAYWRIGHT_CHROMIUM_EXECUTABLE, then Debian's chromium, else Playwright's own."""
    for candidate in (os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class LiveClock:
    """The live server's clock: real time, or a 'now' the test sets."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return self.frozen or datetime.now(UTC) + self.offset

    def reset(self) -> None:
        self.offset, self.frozen = timedelta(0), None

    def freeze(self, at: datetime) -> None:
        self.frozen = at

    def travel(self, delta: timedelta) -> None:
        if self.frozen:
            self.frozen += delta
        else:
            self.offset += delta


@dataclass
class LiveServer:
    url: str
    app: Flask
    clock: LiveClock


def register(page: Page, email: str | None = None, timezone: str | None = None) -> str:
    """Create an account through the form, as a new user would; returns the email."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if timezone:
        page.get_by_label("Time zone").fill(timezone)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    # The heading shows before the deferred scripts run; a tap before htmx starts would be a
    # plain full-page navigation. A phone user is never that fast.
    page.wait_for_load_state("domcontentloaded")
    return email


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    page.wait_for_load_state("domcontentloaded")


LAYOUT_PROBE = """() => {
  const vw = document.documentElement.clientWidth;
  const overflow = document.documentElement.scrollWidth - vw;
  const visible = el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
      && !el.closest('[hidden], [aria-hidden=true], .skip-link, datalist');
  };
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '')
    + ' "' + (el.textContent || el.value || el.name || '').trim().slice(0, 30) + '"';
  const small = [];
  // Inline links inside running text are exempt (WCAG 2.5.8); everything else is a tap target.
  const targets = 'a, button, input:not([type=hidden]), select, textarea, summary, [role=button], label.choice';
  document.querySelectorAll(targets).forEach(el => {
      if (!visible(el)) return;
      if (el.tagName === 'A' && el.closest('p, li.text')) return;
      if (el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')) return;
      if (el.matches('.visually-hidden, .sr-only')) return;
      const r = el.getBoundingClientRect();
      if (r.width < 44 || r.height < 44) small.push(describe(el) + ` ${Math.round(r.width)}x${Math.round(r.height)}`);
    });
  const tinyInputs = [];
  const fields = 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=range]), select, textarea';
  document.querySelectorAll(fields).forEach(el => {
    if (visible(el) && parseFloat(getComputedStyle(el).fontSize) < 16) tinyInputs.push(describe(el));
  });
  const nav = document.getElementById('tabbar');
  let navVisible = false;
  if (nav && visible(nav)) {
    const r = nav.getBoundingClientRect();
    navVisible = r.bottom <= window.innerHeight + 1 && r.top < window.innerHeight;
  }
  return {vw, overflow, small, tinyInputs, navVisible};
}"""


def assert_phone_layout(page: Page, nav: bool = True) -> None:
    """No sideways scrolling, tap targets of 44x44 px or more, 16 px inputs, the tab bar in view."""
    found = page.evaluate(LAYOUT_PROBE)
    assert found["overflow"] <= 0, f"page scrolls sideways by {found['overflow']} px"
    assert found["small"] == [], f"tap targets under 44x44 px: {found['small']}"
    assert found["tinyInputs"] == [], f"inputs under 16 px zoom on iOS: {found['tinyInputs']}"
    if nav:
        assert found["navVisible"], "the bottom navigation is not visible"


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
          .map(v => ({id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    assert result == [], json.dumps(result, indent=2)


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under e2e/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    device = getattr(page, "device_name", "phone").replace(" ", "-")
    path = SCREENSHOTS / f"{name}--{device}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page: Page, name: str, nav: bool = True) -> None:
    """The checks every page gets: layout, accessibility, a screenshot."""
    page.wait_for_load_state("networkidle")
    assert_phone_layout(page, nav=nav)
    assert_accessible(page)
    shot(page, name)
