"""Whether a `--storage` URL can hold a run's Optuna study, found out by connecting.

`storage_url_problem(url)` returns None when the database can be used, else one line that
says why not and what to do: a missing driver (and the pip package to install), a server
that cannot be reached or does not answer, a refused user or password, a missing database,
a user that may not create or write Optuna's tables, an in-memory SQLite database (which no
other worker can see), a SQLite path that is a folder or in a missing or read-only folder,
a kind of database SQLAlchemy does not know. train.py asks before it writes anything, so a
bad URL is one line and exit status 2, not a traceback once the run folder exists.

A reachable database is made ready as the run would make it: Optuna's tables are created
if missing (optuna.storages.RDBStorage), then an UPDATE of Optuna's trials table that
matches no row is run and rolled back, which the database refuses to a user who may only
read. Workers started together on an empty database race to create the tables; those
that lose try again and find them made. A SQLite file that does not exist yet is not
created: the check makes and removes a temporary file in its folder instead.

SQLAlchemy and Optuna are imported when the check runs, not with this module.
"""

import os
import re
import tempfile
import threading
import time
import warnings

CONNECT_SECONDS = 5  # how long a server has to answer a connection
_SLACK_SECONDS = 5  # and after 3 times that, plus this, the check gives up waiting

REQUIREMENTS = "requirements-postgres.txt"

# SQLAlchemy's driver name -> how to install it.
_INSTALL = {
    "psycopg": f"pip install -r {REQUIREMENTS} (psycopg 3, the driver of postgresql:// URLs)",
    "psycopg2": f"pip install psycopg2-binary, or use psycopg 3: write postgresql+psycopg:// and "
                f"pip install -r {REQUIREMENTS}",
    "pg8000": "pip install pg8000",
    "mysqldb": "pip install mysqlclient (it builds against MySQL's client library), "
               "or write mysql+pymysql:// and pip install PyMySQL",
    "pymysql": "pip install PyMySQL",
    "mysqlconnector": "pip install mysql-connector-python",
    "mariadbconnector": "pip install mariadb",
    "oracledb": "pip install oracledb",
    "cx_oracle": "pip install cx_Oracle",
    "pyodbc": "pip install pyodbc",
    "pymssql": "pip install pymssql",
}

# SQLAlchemy's driver name -> the driver's connect() argument that bounds the connection's wait.
_TIMEOUT_ARGUMENT = {
    "psycopg": "connect_timeout", "psycopg2": "connect_timeout", "pg8000": "timeout",
    "mysqldb": "connect_timeout", "pymysql": "connect_timeout", "mysqlconnector": "connection_timeout",
    "pysqlite": "timeout",  # here: how long to wait for another worker's write lock
}

# What a driver's error says -> the kind of problem. Checked in this order, on the
# driver's message (PostgreSQL's libpq, MySQL's client, SQLite).
_KINDS = [
    ("no_database", (r'database "[^"]*" does not exist', "Unknown database")),
    ("refused", ("password authentication failed", "authentication failed", "no pg_hba.conf entry",
                 "no password supplied", r'role "[^"]*" does not exist', "Access denied for user",
                 "pg_hba.conf rejects")),
    ("read_only", ("permission denied", "must be owner", "command denied", "readonly database",
                   "read-only", "attempt to write", "not authorized")),
    ("unreachable", ("Connection refused", "timeout expired", "timed out", "could not translate host name",
                     "failed to resolve host", "Name or service not known", "No route to host",
                     "Network is unreachable", "Can't connect to", "Unknown MySQL server host",
                     "server closed the connection unexpectedly", "No such file or directory",
                     "Temporary failure in name resolution", "Connection reset")),
    ("locked", ("database is locked",)),
    ("not_a_database", ("file is not a database", "unable to open database file")),
]


def storage_url_problem(url, timeout=CONNECT_SECONDS):
    """None if `url` names a database this machine can hold the study in; else one line saying why not."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return ("not a database URL; write dialect://user:password@host:port/database, "
                "e.g. postgresql://user:password@dbhost/optuna or sqlite:////path/to/study.db")
    backend = parsed.get_backend_name()
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        try:
            make_url(f"{backend}://").get_dialect()
        except NoSuchModuleError:
            return (f"no kind of database is called {backend!r}; Optuna keeps studies in PostgreSQL "
                    "(postgresql://), MySQL (mysql://) or SQLite (sqlite:///)")
        return f"no driver for {backend} is called {parsed.drivername.partition('+')[2]!r}; try {backend}://"
    driver = parsed.get_driver_name()
    if getattr(dialect, "is_async", False):
        return f"{driver} is an asyncio driver, and Optuna needs a plain one; try {backend}://"
    try:
        (dialect.import_dbapi if hasattr(dialect, "import_dbapi") else dialect.dbapi)()
    except ImportError:
        install = _INSTALL.get(driver, f"install the Python package that provides {driver}")
        return f"the {driver} driver for {backend}:// is not installed: {install}"
    if backend == "sqlite":
        problem, exists = _sqlite_file_problem(parsed)
        if problem or not exists:
            return problem
    return _connect(url, parsed, driver, timeout)


def shown(url):
    """`url` for a message: its password, if any, as ***."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (not a URL: nothing to hide)
        return url


def _sqlite_file_problem(parsed):
    """(problem or None, whether the file exists) for a SQLite URL."""
    database = parsed.database
    if database and database.startswith("file:") and parsed.query.get("uri") == "true":
        # sqlite:///file:path?mode=ro&uri=true: SQLite's own URI form.
        in_memory = parsed.query.get("mode") == "memory" or database.startswith("file::memory:")
        database = None if in_memory else database[len("file:"):].split("?")[0]
    if not database or database == ":memory:":
        return ("an in-memory SQLite database lives and dies with one process, so no other worker sees "
                "the study and nothing is kept; name a file (sqlite:////path/to/study.db), or leave --storage "
                "out for a SQLite file in the run folder", False)
    path = os.path.abspath(database)
    if os.path.isdir(path):
        return f"{path} is a folder; name a file in it, e.g. sqlite:///{os.path.join(path, 'study.db')}", True
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return (f"the folder {folder} does not exist (SQLite creates the database file, not its folder)",
                False)
    if os.path.exists(path):
        return None, True
    # Tried, not asked (os.access says yes to root on a read-only mount); nothing is left.
    try:
        fd, probe = tempfile.mkstemp(prefix=".storage-probe-", dir=folder)
    except OSError as error:
        return f"cannot create the database file in {folder} ({error.strerror})", False
    os.close(fd)
    os.remove(probe)
    return None, False


def _connect(url, parsed, driver, timeout):
    """Opens the study's storage as a worker would and tries a write; a problem, or None.

    In a thread, so that a step the driver does not bound (a slow DNS look-up) cannot
    hang the caller: past the limit the thread is left to finish on its own.
    """
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_open_and_write(url, parsed, driver, timeout)),
                              daemon=True, name="storage-check")
    thread.start()
    limit = 3 * timeout + _SLACK_SECONDS
    thread.join(limit)
    if not outcome:
        return f"no answer from {_where(parsed)} within {limit} s; is the server running and reachable from here?"
    return outcome[0]


def _open_and_write(url, parsed, driver, timeout):
    for attempt in range(_CREATION_ATTEMPTS):
        try:
            _open_and_try_a_write(url, driver, timeout)
            return None
        except Exception as error:  # noqa: BLE001 (every failure becomes one line)
            if attempt + 1 < _CREATION_ATTEMPTS and _lost_creation_race(error):
                time.sleep(0.2 * (attempt + 1))
                continue
            return _explain(error, parsed)


# Workers started together on an empty database all create Optuna's tables at once: one
# succeeds, the others' CREATE TABLE (or first INSERT into version_info) fails with a
# duplicate, and tried again they find the tables made.
_CREATION_ATTEMPTS = 5


def _lost_creation_race(error):
    message = _driver_message(error)
    return any(words in message for words in ("already exists", "duplicate key", "Duplicate entry",
                                              "UNIQUE constraint failed"))


def _open_and_try_a_write(url, driver, timeout):
    import optuna
    from sqlalchemy import text

    connect_args = {_TIMEOUT_ARGUMENT[driver]: timeout} if driver in _TIMEOUT_ARGUMENT else {}
    storage = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": connect_args})
        with storage.engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(text("UPDATE trials SET state = state WHERE 1 = 0"))
            finally:
                transaction.rollback()
    finally:
        if storage is not None:
            storage.engine.dispose()


def _explain(error, parsed):
    """One line for an error met while opening or writing the storage."""
    message = _driver_message(error)
    kind = next((kind for kind, patterns in _KINDS if any(re.search(p, message) for p in patterns)), None)
    detail = _detail(message)
    user = parsed.username or "(none given)"
    database = parsed.database
    if kind == "unreachable":
        return (f"cannot reach the database server at {_where(parsed)} ({detail}); is it running, and does it "
                "accept connections from this machine?")
    if kind == "refused":
        return f"the server at {_where(parsed)} refused user {user} ({detail}); check the user and password in the URL"
    if kind == "no_database":
        return f"there is no database {database!r} on the server at {_where(parsed)} ({detail}); create it first"
    if kind == "read_only" and parsed.get_backend_name() == "sqlite":
        return f"cannot write {database} ({detail})"
    if kind == "read_only":
        grant = ""
        if parsed.get_backend_name() == "postgresql":
            grant = (f"; make {user} the database's owner, or GRANT CREATE, USAGE ON SCHEMA public TO {user} and "
                     "grant it INSERT, UPDATE, DELETE on Optuna's tables")
        return f"user {user} may not create or write Optuna's tables in {database!r} ({detail}){grant}"
    if kind == "locked":
        return f"{database} is locked by another process (a worker stopped with Ctrl-Z while writing?)"
    if kind == "not_a_database":
        return f"cannot open {database} as a SQLite database ({detail})"
    if "no longer compatible" in message or "optuna storage upgrade" in message:
        return detail
    return f"cannot use the database at {_where(parsed)}: {type(_innermost(error)).__name__}: {detail}"


def _innermost(error):
    """The driver's own exception behind SQLAlchemy's and Optuna's wrappers, if any."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "orig", None) or error.__cause__
        if inner is None:
            return error
        error = inner
    return error


def _driver_message(error):
    inner = _innermost(error)
    return str(inner) or type(inner).__name__


def _detail(message):
    """The driver's message, on one line and without the repeated connection preamble."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = lines[0] if lines else message
    # libpq: 'connection failed: connection to server at "h", port p failed: FATAL:  why'
    first = re.sub(r"^(connection failed: )?connection to server at .*? failed: ", "", first)
    first = re.sub(r"^(FATAL|ERROR):\s+", "", first)
    first = re.sub(r"^\(\d+, [\"'](.*)[\"']\)$", r"\1", first)  # MySQL's (code, 'message')
    return re.sub(r"\s+", " ", first).strip()


def _where(parsed):
    if parsed.get_backend_name() == "sqlite":
        return parsed.database
    host = parsed.host or "localhost"
    return f"{host}:{parsed.port}" if parsed.port else host
