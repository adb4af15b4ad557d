"""Step 1: the User model, GET /api/users/<id>, and problem details for every error.

These tests run against step 1 and against every later step.
"""

import contextlib
import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from tests.helpers import (
    LINE_BREAKS,
    OTHER_CONTROLS,
    assert_problem,
    delete_user,
    sqlite_lock,
    steps_from,
    stops_the_start,
)

pytestmark = pytest.mark.parametrize("step", steps_from(1), indirect=True)


def test_get_user_returns_id_and_username(client, add_user):
    user_id = add_user("alice")
    response = client.get(f"/api/users/{user_id}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"id": user_id, "username": "alice"}


def test_user_representation_never_contains_the_hash(app, client, add_user, step):
    user_id = add_user("alice")
    with app.app_context():
        stored_hash = step.db.session.get(step.User, user_id).password_hash
    body = client.get(f"/api/users/{user_id}").get_data(as_text=True)
    assert "password" not in body
    assert stored_hash not in body


def test_unknown_user_is_404_problem(client):
    body = assert_problem(client.get("/api/users/42"), 404)
    assert "42" in body["detail"]


@pytest.mark.parametrize("user_id", ["2147483648", "99999999999999999999999", "-1", "abc"])
def test_ids_no_column_can_hold_are_404(client, user_id):
    assert_problem(client.get(f"/api/users/{user_id}"), 404)


# Werkzeug merges doubled slashes with a 308 redirect by default: an HTML page, whose
# Location takes its host from the Host header, and which keeps the method and the body.
@pytest.mark.parametrize(
    "path", ["/api/users//1", "/api//users/1", "/api/users/1//", "/api///users///1"]
)
def test_a_path_with_doubled_slashes_is_404_not_a_redirect(client, add_user, path):
    add_user("alice")
    response = client.get(path, headers={"Host": "evil.example"})
    assert_problem(response, 404)
    assert "Location" not in response.headers


# Leading slashes are one slash on both servers: the development server merges them before
# the app sees the path (tests/test_reliability_servers.py), and gunicorn passes them on in
# PATH_INFO, as here, where Werkzeug's router drops them.
@pytest.mark.parametrize("leading", ["//", "///"])
def test_slashes_at_the_start_count_as_one(client, add_user, leading):
    user_id = add_user("alice")
    response = client.get("/", environ_overrides={"PATH_INFO": f"{leading}api/users/{user_id}"})
    assert response.status_code == 200
    assert response.get_json() == {"id": user_id, "username": "alice"}
    assert_problem(client.get("/", environ_overrides={"PATH_INFO": f"{leading}api//users/1"}), 404)


def test_unknown_route_is_404_problem(client):
    assert_problem(client.get("/no/such/page"), 404)


@pytest.mark.own_app
def test_unexpected_error_is_500_problem_without_traceback(app, client):
    app.testing = False  # let Flask handle the exception as in production

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    body = assert_problem(client.get("/boom"), 500)
    assert "secret internals" not in str(body)
    assert "Traceback" not in str(body)


# No request can forge a log line: what a client sends is written escaped, on one line.
# (tests/test_reliability_logs.py sends it to both servers.)


def one_line_each(records) -> list[str]:
    messages = [record.getMessage() for record in records]
    for message in messages:
        assert message.splitlines() == [message], message
        assert not any(character in message for character in LINE_BREAKS + OTHER_CONTROLS)
    return messages


@pytest.mark.parametrize("name", ["app", "gunicorn.error", "gunicorn.access"])
def test_a_log_record_is_one_line_whatever_a_client_sent(app, caplog, name):
    logger = app.logger if name == "app" else logging.getLogger(name)
    for character in LINE_BREAKS + OTHER_CONTROLS:
        logger.warning('"GET /api/users/%s HTTP/1.1" 404', f"1{character}forged")
        # gunicorn's access log takes its fields from a dict: the username, the user agent...
        logger.warning('%(u)s "%(a)s"', {"u": f"a{character}forged", "a": f"b{character}forged"})
    messages = one_line_each(caplog.records)
    assert len(messages) == 2 * len(LINE_BREAKS + OTHER_CONTROLS)
    assert all("forged" in message for message in messages)
    assert "1\\x0d\\x0aforged" in messages[0] and "1\\u2028forged" in "".join(messages)


def test_werkzeug_request_lines_get_the_separators_it_leaves_escaped(app, caplog):
    # Werkzeug escapes every control character of the request line it logs itself.
    for character in ("\u2028", "\u2029"):
        logging.getLogger("werkzeug").warning('"GET /api/users/%s HTTP/1.1" 404', f"1{character}x")
    assert one_line_each(caplog.records)[0].endswith('"GET /api/users/1\\u2028x HTTP/1.1" 404')


@pytest.mark.own_app
def test_the_path_of_a_failed_request_is_one_line_in_the_apps_log(app, client, caplog):
    app.testing = False  # let Flask handle and log the exception as in production

    @app.before_request
    def fail():
        raise RuntimeError("internals")

    for character in LINE_BREAKS + OTHER_CONTROLS:
        assert client.get(f"/api/users/1{quote(character)}forged").status_code == 500
    messages = one_line_each(caplog.records)
    assert len(messages) == len(LINE_BREAKS + OTHER_CONTROLS)
    assert all(message.startswith("Exception on /api/users/1") for message in messages)


@pytest.mark.unit_of("models.py")
def test_user_table_columns(app, step):
    with app.app_context():
        inspector = inspect(step.db.engine)
        columns = {column["name"]: column for column in inspector.get_columns("users")}
        unique_indexes = [i["column_names"] for i in inspector.get_indexes("users") if i["unique"]]
        unique_constraints = [c["column_names"] for c in inspector.get_unique_constraints("users")]
    # Which columns there are: test_before_authorization.py (step 7 adds one).
    assert columns["username"]["type"].length == 32
    assert not columns["username"]["nullable"]
    assert not columns["password_hash"]["nullable"]
    # sha512_crypt hashes from step 2 are about 120 characters long.
    assert columns["password_hash"]["type"].length >= 128
    assert ["username"] in unique_indexes + unique_constraints


@pytest.mark.unit_of("models.py")
def test_username_is_unique_in_the_database(app, add_user):
    add_user("alice")
    with pytest.raises(IntegrityError):
        add_user("alice")


def test_default_database_is_an_sqlite_file_named_after_the_step(step, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    package = step.__name__.split(".")[0]
    # Flask's instance folder of a package is next to it (the repository, or workshop/).
    default_file = Path(step.__file__).parent.parent / "instance" / f"{package}.sqlite"
    existed = default_file.exists()
    app = step.create_app()
    try:
        assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{package}.sqlite"
        with app.app_context():
            assert step.db.engine.url.database == str(default_file)
            step.db.engine.dispose()
        assert default_file.exists()  # created on start-up, tables and all
    finally:
        if not existed:  # leave a learner's instance folder as it was
            default_file.unlink(missing_ok=True)


@pytest.mark.unit_of("settings.py")
def test_database_url_overrides_the_default(step, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'chosen.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    app = step.create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    with app.app_context():
        step.db.engine.dispose()
    assert (tmp_path / "chosen.sqlite").exists()  # tables were created on start-up


@pytest.mark.unit_of("settings.py")
def test_a_flask_variable_sets_a_setting_at_start(step, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'from-flask-variable.sqlite'}"
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", url)
    monkeypatch.setenv("FLASK_SQLALCHEMY_ENGINE_OPTIONS", '{"hide_parameters": true}')
    app = step.create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"hide_parameters": True}  # read as JSON
    with app.app_context():
        step.db.engine.dispose()


@pytest.mark.unit_of("settings.py")
def test_a_test_config_wins_over_a_flask_variable(step, monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "sqlite:///never-used.sqlite")
    url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    app = step.create_app({"SQLALCHEMY_DATABASE_URI": url})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    with app.app_context():
        step.db.engine.dispose()


@pytest.mark.unit_of("settings.py")
@pytest.mark.parametrize("value", ["7", "true", '"text"', "not json"])
def test_a_flask_variable_of_the_wrong_kind_stops_the_start(step, monkeypatch, value):
    monkeypatch.setenv("FLASK_SQLALCHEMY_ENGINE_OPTIONS", value)
    with stops_the_start("FLASK_SQLALCHEMY_ENGINE_OPTIONS", "must be a JSON object"):
        step.create_app()


@pytest.mark.unit_of("models.py")
@pytest.mark.parametrize("how", ["orm", "sql", "another-client"])
def test_an_id_is_never_given_to_a_second_user(app, add_user, step, how):
    add_user("alice")
    bob = add_user("bob")  # the highest id, which SQLite would reuse without AUTOINCREMENT
    delete_user(app, step, bob, how)
    assert add_user("mallory") == bob + 1


@pytest.mark.unit_of("models.py")
def test_tables_another_worker_creates_at_the_same_moment_are_taken(step, tmp_path):
    """Two gunicorn workers start on a new database: both find `users` missing."""
    path = tmp_path / "race.sqlite"
    created = []

    def another_worker_first(table, connection, **options):
        if not created:  # just before this app creates it, another creates the same table
            with contextlib.closing(sqlite3.connect(path)) as other:
                other.execute(str(CreateTable(table).compile(dialect=connection.dialect)))
            created.append(table.name)

    table = step.User.__table__
    event.listen(table, "before_create", another_worker_first)
    try:
        app = step.create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    finally:
        event.remove(table, "before_create", another_worker_first)
    assert created == ["users"]
    response = app.test_client().get("/api/users/1")
    assert response.status_code == 404
    with app.app_context():
        step.db.engine.dispose()


def test_a_locked_database_is_503_with_retry_after(
    app, client, add_user, short_busy_timeout, caplog
):
    user_id = add_user("alice")
    with sqlite_lock(app.config["SQLALCHEMY_DATABASE_URI"], "EXCLUSIVE"):
        response = client.get(f"/api/users/{user_id}")
    body = assert_problem(response, 503)
    assert "Try again" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0  # seconds (RFC 9110 §10.2.3)
    # One line in the log, without a traceback: the code is not broken.
    (record,) = [record for record in caplog.records if "503" in record.getMessage()]
    assert record.levelname == "WARNING"
    assert "database is locked" in record.getMessage()
    assert record.exc_info is None
    # The same app answers again as soon as the lock is gone.
    assert client.get(f"/api/users/{user_id}").status_code == 200


def test_a_schema_mismatch_is_a_500_whose_log_shows_no_bound_parameter(
    app, client, step, add_user, caplog
):
    add_user("alice")
    with app.app_context(), step.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE users DROP COLUMN password_hash"))
    app.testing = False  # let Flask handle the exception as in production
    response = client.get("/api/users/1234567")
    assert_problem(response, 500)
    assert "Retry-After" not in response.headers  # no retry cures a missing column
    assert "Traceback" in caplog.text  # an unexpected error: logged whole, for the developer
    assert "parameters hidden" in caplog.text
    # The statement's parameter, the id, appears only in the request's path.
    assert caplog.text.count("1234567") == caplog.text.count("/api/users/1234567")
