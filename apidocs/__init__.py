"""Interactive API docs beside a step, for `make run`: not part of any step.

`create_app("step5_tokens")` builds the step's own app, as `flask --app step5_tokens` would,
then adds three routes to it: Swagger UI at /docs/, and the step's hand-written OpenAPI
description at /openapi.yaml and /openapi.json. The step packages know nothing of this.
A workshop copy (`workshop/step5_tokens`) that has no openapi.yaml of its own is shown
with its solution's description.
"""

import importlib
from pathlib import Path

import yaml
from flask import Flask, Response, redirect
from flask.cli import find_best_app, prepare_import
from flask_swagger_ui import get_swaggerui_blueprint

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = "openapi.yaml"


def create_app(step: str) -> Flask:
    """The app of `step` (a folder or a package name) with its docs page."""
    # Flask's own steps: put the folder's parent on sys.path, import it, call its create_app().
    module = importlib.import_module(prepare_import(step))
    app = find_best_app(module)
    add_docs(app, description_of(Path(module.__file__).parent))
    return app


def description_of(folder: Path) -> Path:
    """The folder's openapi.yaml, or the solution's for a workshop copy that has none."""
    own = folder / DESCRIPTION
    return own if own.is_file() else ROOT / folder.name / DESCRIPTION


def add_docs(app: Flask, description: Path) -> None:
    text = description.read_text(encoding="utf-8")
    # libyaml's loader when PyYAML has it: parsing takes milliseconds instead of tens.
    document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    config = {
        "app_name": document["info"]["title"],
        "url": "/openapi.yaml",
        "layout": "BaseLayout",  # no top bar: it offers to load descriptions from elsewhere
        # Swagger UI would send the description to an online validator whenever the page is
        # not served from loopback, and builds its OAuth redirect from the Host header unless
        # told one: the page loads nothing from another host and uses no URL a client sent.
        "validatorUrl": None,
        "oauth2RedirectUrl": "/docs/oauth2-redirect.html",
        "tryItOutEnabled": True,
        "displayRequestDuration": True,  # a password costs a slow hash, a token does not
    }
    app.register_blueprint(get_swaggerui_blueprint("/docs", "/openapi.yaml", config=config))
    # A relative Location, as for the step's own 201: nothing a client sends builds it.
    app.add_url_rule("/docs", "docs", lambda: redirect("/docs/"))
    app.add_url_rule(
        "/openapi.yaml", "openapi_yaml", lambda: Response(text, mimetype="application/yaml")
    )
    app.add_url_rule("/openapi.json", "openapi_json", lambda: document)
