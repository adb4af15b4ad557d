"""The docs page that `make run` adds beside a step (apidocs/): Swagger UI at /docs and the
step's description at /openapi.yaml and /openapi.json, with nothing taken from the request
to build a URL and nothing loaded from another host.

tests/browser_docs_page.py (make test-browser) uses the page in a real browser.
"""

import json
import re
import shutil

import pytest
import requests
import yaml

import apidocs
from steps import STEPS
from tests.helpers import assert_problem, steps_from
from tests.live import ROOT

# The docs page's routes are added to the app under test, as `make run` adds them.
pytestmark = pytest.mark.own_app
# The page is the same beside any step: step 5's app (and any after it) shows it here.
with_a_step = pytest.mark.parametrize("step", steps_from(5), indirect=True)
OTHER_HOST = {"Host": "evil.example"}


@pytest.fixture
def docs(app, step):
    apidocs.add_docs(app, ROOT / step.name / "openapi.yaml")
    return app.test_client()


@with_a_step
def test_docs_without_its_slash_redirects_to_the_page_by_a_relative_location(docs):
    response = docs.get("/docs", headers=OTHER_HOST)
    assert response.status_code == 302
    assert response.headers["Location"] == "/docs/"


def page_config(html: str) -> dict:
    """The settings that the page hands to Swagger UI."""
    return json.loads(re.search(r"var user_config = (\{.*?\});", html)[1])


@with_a_step
def test_the_page_loads_its_assets_from_its_own_paths_and_no_url_from_the_host(docs, step):
    response = docs.get("/docs/", headers=OTHER_HOST)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "evil.example" not in html
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert urls and all(url.startswith("/docs/") for url in urls), urls
    config = page_config(html)
    assert config["url"] == "/openapi.yaml"
    assert config["validatorUrl"] is None  # no description sent to an online validator
    assert config["oauth2RedirectUrl"] == "/docs/oauth2-redirect.html"  # not from Host
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "oauth2-redirect.html"):
        with docs.get(f"/docs/{asset}") as served:  # a file: closed when the block ends
            assert served.status_code == 200


@with_a_step
def test_the_description_is_served_as_written_and_as_json(docs, step):
    written = (ROOT / step.name / "openapi.yaml").read_bytes()
    response = docs.get("/openapi.yaml")
    assert (response.status_code, response.mimetype) == (200, "application/yaml")
    assert response.get_data() == written
    assert docs.get("/openapi.json").get_json() == yaml.safe_load(written)


@with_a_step
def test_a_path_under_docs_that_is_no_asset_is_a_problem_404(docs):
    assert_problem(docs.get("/docs/nothing.js"), 404)


@with_a_step
def test_a_copy_without_a_description_is_shown_with_its_solutions(step, tmp_path):
    copy = tmp_path / step.name
    copy.mkdir()
    assert apidocs.description_of(copy) == ROOT / step.name / "openapi.yaml"
    (copy / "openapi.yaml").write_text("openapi: 3.1.0\n")
    assert apidocs.description_of(copy) == copy / "openapi.yaml"


@pytest.mark.live
@pytest.mark.step1
def test_make_run_workshop_serves_the_docs_page_of_the_working_copy(live_server, tmp_path):
    copies = tmp_path / "copies"
    shutil.copytree(ROOT / STEPS[0], copies / STEPS[0], ignore=shutil.ignore_patterns("*.yaml"))
    server = live_server(step=1, make_vars={"WORKSHOP": "1", "WORKSHOP_DIR": str(copies)})
    assert requests.get(f"{server.url}/docs/", timeout=5).status_code == 200
    served = requests.get(f"{server.url}/openapi.yaml", timeout=5).content
    assert served == (ROOT / STEPS[0] / "openapi.yaml").read_bytes()
    assert f"Serving {copies}/{STEPS[0]}" in server.log_text()
