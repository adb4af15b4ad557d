"""The docs page of `make run`, used in a real browser as a learner would: `make test-browser`.

Not part of `make test`: pytest collects this file only when it is named (its name does not
start with test_). It drives the system's headless Chromium through Playwright, launched
with that executable (CHROMIUM=, by default Debian's /usr/bin/chromium): Playwright never
downloads a browser here.

The page is opened at a name other than localhost (Chromium maps docs.test to 127.0.0.1),
because Swagger UI behaves differently on loopback: it would, for example, send the
description to its online validator only from another host. Every request the page makes
is recorded, and any to another host fails the test.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from steps import LAST
from tests.helpers import PASSPHRASE, basic_auth, step_mark

pytestmark = [pytest.mark.live, step_mark(LAST)]  # the complete app: the last step

HOST = "docs.test"  # not loopback by name, so Swagger UI treats it as any server
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless, and quiet: no first-run pages, updates or background traffic of its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
]
TOKEN = re.compile(r"fra_[A-Za-z0-9_-]{43}")
NEW_PASSWORD = "wrong-horse-battery-staple"  # the example body of changePassword


@pytest.fixture
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"No Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM=")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def toggle(page, operation_id: str):
    """The operation's block on the page, opened or closed by a click on its summary. Open,
    it is ready to execute (the docs page turns `tryItOutEnabled` on)."""
    block = page.locator(f"[id$='-{operation_id}']")
    block.locator(".opblock-summary-control").click()
    return block


def execute(block, status: int):
    """Press Execute; return the response body that the page shows once it has the status."""
    block.locator("button.execute").click()
    response = block.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text(str(status))
    return response.locator(".response-col_description").inner_text()


def authorize(page, scheme: str, *values: str, logout: str | None = None):
    """Fill in the Authorize dialog for one scheme, after logging out of another."""
    page.locator("button.authorize").first.click()
    if logout:
        signed_in = page.locator(".auth-container", has_text=logout)
        signed_in.get_by_role("button", name="Remove authorization").click()
    container = page.locator(".auth-container", has_text=scheme)
    for field, value in zip(container.locator("input").all(), values, strict=True):
        field.fill(value)
    container.get_by_role("button", name="Apply credentials").click()
    container.get_by_role("button", name="Close").click()


def test_the_docs_page_registers_authorizes_and_calls_every_route(browser, live_server, request):
    server = live_server(LAST)
    base = f"http://{HOST}:{server.port}"
    ours, elsewhere, authorizations = urlsplit(base).netloc, [], []

    def route(handled):
        url = urlsplit(handled.request.url)
        if url.scheme in ("data", "blob") or url.netloc == ours:
            if url.path.startswith("/api/"):
                authorizations.append(handled.request.headers.get("authorization", ""))
            handled.continue_()
        else:
            elsewhere.append(handled.request.url)
            handled.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", route)
    page = context.new_page()

    page.goto(f"{base}/docs")
    assert page.url == f"{base}/docs/"
    expect(page.locator(".info .title")).to_contain_text(f"step {LAST}")

    # The example body of POST /api/users registers alice.
    assert '"username": "alice"' in execute(toggle(page, "createUser"), 201)
    toggle(page, "createUser")

    authorize(page, "basicAuth", "alice", PASSPHRASE)
    token = TOKEN.search(execute(toggle(page, "issueToken"), 200))
    assert token, "no access token in the response of POST /api/tokens"
    toggle(page, "issueToken")

    authorize(page, "bearerAuth", token[0], logout="basicAuth")
    assert "Hello, alice!" in execute(toggle(page, "getResource"), 200)
    assert authorizations[-1] == f"Bearer {token[0]}"

    execute(toggle(page, "revokeToken"), 204)
    toggle(page, "revokeToken")
    user = toggle(page, "getUser")
    user.locator("input[placeholder='id']").fill("1")
    assert '"username": "alice"' in execute(user, 200)
    toggle(page, "getUser")

    # The page as a learner sees it, from its top to the resource's answer.
    page.evaluate("document.activeElement.blur()")
    page.mouse.move(0, 0)
    answered = page.locator("[id$='-getResource'] .live-responses-table").bounding_box()
    screenshot = Path(request.config.option.screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    bottom = answered["y"] + answered["height"] + 80  # and the request's duration below it
    page.screenshot(
        path=screenshot, full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": bottom}
    )

    # Who may do what (step 7 on): alice is no admin, so the list of users is a 403.
    authorize(page, "basicAuth", "alice", PASSPHRASE, logout="bearerAuth")
    assert "admin" in execute(toggle(page, "listUsers"), 403)
    toggle(page, "listUsers")
    # Her password changes (step 8 on), with the example body; then she deletes her account.
    change = toggle(page, "changePassword")
    change.locator("input[placeholder='id']").fill("1")
    execute(change, 204)
    toggle(page, "changePassword")
    authorize(page, "basicAuth", "alice", NEW_PASSWORD, logout="basicAuth")
    delete = toggle(page, "deleteUser")
    delete.locator("input[placeholder='id']").fill("1")
    execute(delete, 204)
    toggle(page, "deleteUser")
    assert authorizations[-1] == basic_auth("alice", NEW_PASSWORD)["Authorization"]

    assert elsewhere == [], "the page requested other hosts"
