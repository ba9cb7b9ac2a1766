"""Playwright driving Debian's chromium against pytest-django's live server. Screenshots of every
step go to artifacts/screenshots/ (git-ignored) for a person to look at."""

import os
from pathlib import Path

import pytest
from django.core.cache import cache

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (CI installs it: apt-get install -y chromium)",
        allow_module_level=True,
    )

# Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are still
# ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def shoot():
    """shoot(page, "01-dashboard"): a full-page screenshot under artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def fresh_dashboard_and_threaded_jobs(settings):
    """The dashboard snapshot is cached across tests (Redis in CI); job runs started from the admin
    run in a thread of the live server, as in the demo, instead of waiting for a Celery worker."""
    cache.clear()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    cache.clear()
