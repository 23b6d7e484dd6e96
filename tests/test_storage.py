"""--storage URLs are tried before anything is written: each kind of unusable database is
one line saying why (and what to install or fix), found by connecting; a usable one is made
ready as the run would make it. The PostgreSQL cases run against a real server (the
`postgres` fixture, tests/postgres_server.py)."""

import socket
import sys
import time

import pytest

from comparison import storage
from comparison.storage import shown, storage_url_problem
from runs import one_line_error, train


def _one_line(problem):
    assert problem and "\n" not in problem and "Traceback" not in problem, problem
    return problem


# SQLite, and URLs refused before connecting.

def test_a_sqlite_file_in_a_writable_folder_is_usable_and_not_created_by_the_check(tmp_path):
    assert storage_url_problem(f"sqlite:///{tmp_path / 'study.db'}") is None
    assert list(tmp_path.iterdir()) == []


def test_an_existing_sqlite_study_is_usable(tmp_path):
    import optuna

    optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    assert storage_url_problem(f"sqlite:///{tmp_path / 'study.db'}") is None


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_sqlite_database_is_refused_with_the_reason(url):
    problem = _one_line(storage_url_problem(url))
    assert "in-memory" in problem and "no other worker" in problem


def test_a_sqlite_path_that_is_a_folder_is_refused(tmp_path):
    assert _one_line(storage_url_problem(f"sqlite:///{tmp_path}")) == (
        f"{tmp_path} is a folder; name a file in it, e.g. sqlite:///{tmp_path / 'study.db'}")


def test_a_sqlite_file_in_a_missing_folder_is_refused(tmp_path):
    problem = _one_line(storage_url_problem(f"sqlite:///{tmp_path / 'nowhere' / 'study.db'}"))
    assert problem.startswith(f"the folder {tmp_path / 'nowhere'} does not exist")


def test_a_sqlite_file_in_a_folder_that_cannot_be_written_is_refused():
    # /proc: even root cannot create files there (os.access would say it can).
    assert _one_line(storage_url_problem("sqlite:////proc/study.db")).startswith(
        "cannot create the database file in /proc")


def test_a_sqlite_database_that_can_only_be_read_is_refused(tmp_path):
    import optuna

    optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    problem = _one_line(storage_url_problem(f"sqlite:///file:{tmp_path / 'study.db'}?mode=ro&uri=true"))
    assert problem == f"cannot write file:{tmp_path / 'study.db'} (attempt to write a readonly database)"


def test_a_file_that_is_not_a_sqlite_database_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    problem = _one_line(storage_url_problem(f"sqlite:///{tmp_path / 'notes.txt'}"))
    assert problem.startswith(f"cannot open {tmp_path / 'notes.txt'} as a SQLite database")


@pytest.mark.parametrize("url, words", [
    ("nosuchdb://x", "no kind of database is called 'nosuchdb'"),
    ("postgresql+nosuch://h/db", "no driver for postgresql is called 'nosuch'"),
    ("not a url", "not a database URL"),
    ("postgresql+asyncpg://h/db", "asyncpg is an asyncio driver"),
])
def test_urls_no_database_answers_are_refused_before_connecting(url, words):
    assert words in _one_line(storage_url_problem(url))


def test_a_missing_postgresql_driver_names_the_requirements_file(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    assert _one_line(storage_url_problem("postgresql://user:secret@dbhost/optuna")) == (
        "the psycopg driver for postgresql:// is not installed: pip install -r requirements-postgres.txt "
        "(psycopg 3, the driver of postgresql:// URLs)")


@pytest.mark.parametrize("url, module, install", [
    ("mysql://user@127.0.0.1/optuna", "MySQLdb", "pip install mysqlclient"),
    ("mysql+pymysql://user@127.0.0.1/optuna", "pymysql", "pip install PyMySQL"),
    ("postgresql+psycopg2://user@127.0.0.1/optuna", "psycopg2", "pip install psycopg2-binary"),
])
def test_a_missing_driver_names_the_package_to_install(monkeypatch, url, module, install):
    monkeypatch.setitem(sys.modules, module, None)  # missing, whether or not it is installed here
    problem = _one_line(storage_url_problem(url))
    assert "driver for" in problem and "is not installed" in problem and install in problem


def test_a_check_that_gets_no_answer_gives_up(monkeypatch):
    # A step the driver does not bound (a DNS look-up that hangs) cannot hang the check.
    monkeypatch.setattr(storage, "_open_and_write", lambda *args: time.sleep(30))
    monkeypatch.setattr(storage, "_SLACK_SECONDS", 0)
    start = time.monotonic()
    problem = _one_line(storage_url_problem("postgresql://user:secret@dbhost/optuna", timeout=0.5))
    assert time.monotonic() - start < 5
    assert problem == "no answer from dbhost within 1.5 s; is the server running and reachable from here?"


def test_a_password_is_not_shown():
    assert shown("postgresql://user:secret@dbhost/optuna") == "postgresql://user:***@dbhost/optuna"
    assert shown("sqlite:///:memory:") == "sqlite:///:memory:"
    assert shown("not a url") == "not a url"


# PostgreSQL, on a real server.

def test_a_postgresql_database_its_user_owns_is_usable_and_gets_optunas_tables(postgres):
    url = postgres.new_database("owned")
    assert storage_url_problem(url) is None
    tables = {row[0] for row in postgres.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                                                 database="owned")}
    assert {"studies", "trials", "trial_heartbeats", "version_info"} <= tables
    assert storage_url_problem(url) is None  # and again, with the tables there


def test_a_server_that_is_not_running_is_unreachable(postgres):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _one_line(storage_url_problem(postgres.url(port=port))) == (
        f"cannot reach the database server at 127.0.0.1:{port} (Connection refused); is it running, and does it "
        "accept connections from this machine?")


def test_a_server_that_never_answers_times_out():
    # Something accepts the connection and says nothing (a firewall, a hung server).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        start = time.monotonic()
        problem = _one_line(storage_url_problem(f"postgresql://optuna:optuna@127.0.0.1:{port}/optuna", timeout=2))
        assert time.monotonic() - start < 6
    assert problem.startswith(f"cannot reach the database server at 127.0.0.1:{port} (")
    assert "timeout" in problem


def test_a_host_name_that_does_not_resolve_is_unreachable():
    problem = _one_line(storage_url_problem("postgresql://optuna:optuna@no-such-host.invalid/optuna", timeout=2))
    assert problem.startswith("cannot reach the database server at no-such-host.invalid") or \
        problem.startswith("no answer from no-such-host.invalid")


def test_a_wrong_password_is_refused(postgres):
    assert _one_line(storage_url_problem(postgres.url(password="wrong"))) == (
        f"the server at 127.0.0.1:{postgres.port} refused user optuna (password authentication failed for user "
        '"optuna"); check the user and password in the URL')


def test_a_missing_database_is_named(postgres):
    assert _one_line(storage_url_problem(postgres.url(database="nosuchdb"))) == (
        f"there is no database 'nosuchdb' on the server at 127.0.0.1:{postgres.port} (database \"nosuchdb\" does "
        "not exist); create it first")


def test_a_user_who_may_not_create_tables_is_refused(postgres):
    # PostgreSQL 15: only the database's owner may create tables in its public schema.
    postgres.execute("CREATE ROLE visitor LOGIN PASSWORD 'visitor'", "CREATE DATABASE fresh OWNER optuna")
    problem = _one_line(storage_url_problem(postgres.url("visitor", "visitor", "fresh")))
    assert problem.startswith("user visitor may not create or write Optuna's tables in 'fresh' "
                              "(permission denied for schema public); make visitor the database's owner")


def test_a_user_who_may_only_read_optunas_tables_is_refused(postgres):
    url = postgres.new_database("readable")
    assert storage_url_problem(url) is None  # the owner makes the tables
    postgres.execute("CREATE ROLE reader LOGIN PASSWORD 'reader'")
    postgres.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader", database="readable")
    problem = _one_line(storage_url_problem(postgres.url("reader", "reader", "readable")))
    assert problem.startswith("user reader may not create or write Optuna's tables in 'readable' "
                              "(permission denied for table trials)")


# train.py: a bad --storage is one line and exit status 2, before anything is written.

@pytest.mark.parametrize("url, words", [
    ("sqlite://", "in-memory"),
    ("mysql://user@127.0.0.1/optuna", "pip install mysqlclient"),
    ("sqlite:///{tmp}", "is a folder"),
    ("postgresql://optuna:secret@127.0.0.1:{port}/optuna", "cannot reach the database server"),
])
def test_train_refuses_an_unusable_storage_before_writing(tmp_path, url, words):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = url.format(tmp=tmp_path, port=port)
    logdir = tmp_path / "logs"
    result = train("--model", "linear", "--quick", "--run-name", "r", "--resume", "--storage", url, logdir=logdir)
    assert result.returncode == 2, result.stderr
    line = one_line_error(result)
    assert line.startswith(f"train.py: error: --storage {shown(url)!r}: ") and words in line
    assert "secret" not in result.stderr
    assert not logdir.exists()


def test_train_refuses_a_wrong_password_before_writing(postgres, tmp_path):
    logdir = tmp_path / "logs"
    result = train("--model", "linear", "--quick", "--run-name", "r", "--resume",
                   "--storage", postgres.url(password="wrong"), logdir=logdir)
    assert result.returncode == 2
    assert "refused user optuna" in one_line_error(result)
    assert not logdir.exists()


def test_workers_checking_a_fresh_postgresql_database_at_once_all_pass(postgres):
    # Workers started together all create Optuna's tables at the same moment; PostgreSQL
    # lets one do it and fails the others' CREATE TABLE (a duplicate key in its catalog).
    import concurrent.futures
    import threading

    for attempt in range(3):
        url = postgres.new_database(f"together{attempt}")
        barrier = threading.Barrier(4)

        def check():
            barrier.wait()
            return storage_url_problem(url)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda _: check(), range(4))) == [None] * 4
