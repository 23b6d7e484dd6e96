"""A throwaway PostgreSQL server for the tests, on 127.0.0.1 and a free port.

The server is the machine's own PostgreSQL (Debian's `postgresql` package: initdb, pg_ctl
and postgres in `pg_config --bindir`), run in a temporary folder and removed afterwards.
PostgreSQL refuses to run as root, so as root the programs run as the `postgres` user.

Its superuser `admin` connects through the Unix socket in the temporary folder without a
password; over TCP every user needs a password (scram-sha-256), so a wrong one is refused
as it would be on a real server. `serve()` makes the user `optuna` (password `optuna`),
which owns the database `optuna`.

Where the programs are missing the tests that need the server skip, except in CI
(CI=true), where a missing server is a failure: CI installs it (.ci/run).
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager

USER, PASSWORD, DATABASE = "optuna", "optuna", "optuna"
ADMIN = "admin"
_PROGRAMS = ("initdb", "pg_ctl", "postgres")


def missing():
    """Why no server can be started here (PostgreSQL or psycopg not installed), or None."""
    if server_programs() is None:
        return ("PostgreSQL's server programs (initdb, pg_ctl, postgres) are not installed "
                "(Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401 (the driver of postgresql:// URLs)
    except ImportError:
        return "psycopg is not installed (pip install -r requirements-postgres.txt)"
    return None


def server_programs():
    """The folder holding initdb, pg_ctl and postgres, or None."""
    candidates = []
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(bindir)
    # Debian puts the server's programs in /usr/lib/postgresql/<version>/bin, off the PATH.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    if shutil.which("initdb"):
        candidates.append(os.path.dirname(shutil.which("initdb")))
    for folder in candidates:
        if all(os.access(os.path.join(folder, p), os.X_OK) for p in _PROGRAMS):
            return folder
    return None


def _version(folder):
    try:
        return int(folder.split("/")[-2])
    except ValueError:
        return 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bindir, folder, port, as_user):
        self.bindir, self.folder, self.port, self._as_user = bindir, folder, port, as_user
        self.host = "127.0.0.1"

    def url(self, user=USER, password=PASSWORD, database=DATABASE, host=None, port=None):
        """The URL a worker is given: postgresql://user:password@127.0.0.1:port/database."""
        return f"postgresql://{user}:{password}@{host or self.host}:{port or self.port}/{database}"

    def execute(self, *statements, database="postgres"):
        """Runs SQL as the superuser, each statement in its own transaction; returns the
        last one's rows (or None)."""
        import psycopg

        with psycopg.connect(host=self.folder, port=self.port, user=ADMIN, dbname=database,
                             autocommit=True) as connection:
            rows = None
            for statement in statements:
                cursor = connection.execute(statement)
                rows = cursor.fetchall() if cursor.description else None
            return rows

    def query(self, statement, params=(), database=DATABASE):
        """The rows of one SQL query with `params` (%s placeholders), run as the superuser."""
        import psycopg

        with psycopg.connect(host=self.folder, port=self.port, user=ADMIN, dbname=database,
                             autocommit=True) as connection:
            return connection.execute(statement, params).fetchall()

    def new_database(self, name, owner=USER):
        """A fresh database owned by `owner`; returns its URL for the user `optuna`."""
        self.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.url(database=name)

    def _run(self, *command, **kwargs):
        log = os.path.join(self.folder, "commands.log")
        with open(log, "a") as out:
            result = subprocess.run(self._as_user + [os.path.join(self.bindir, command[0]), *command[1:]],
                                    cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    **kwargs)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n{_tail(log)}\n{_tail(self._server_log)}")

    @property
    def _server_log(self):
        return os.path.join(self.folder, "server.log")

    def start(self):
        data = os.path.join(self.folder, "data")
        self._run("initdb", "-D", data, "-U", ADMIN, "--auth-local=trust", "--auth-host=scram-sha-256",
                  "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
        options = (f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", data, "-l", self._server_log, "-o", options, "-w", "-t", "60", "start")

    def stop(self):
        data = os.path.join(self.folder, "data")
        try:
            self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "stop")
        except RuntimeError:
            pass


def _tail(path, lines=20):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def serve():
    """A running server with the user `optuna` owning the database `optuna`; stopped and
    removed on exit. See missing() for what it needs."""
    problem = missing()
    if problem:
        raise RuntimeError(problem)
    bindir = server_programs()
    as_user, owner = [], None
    if os.geteuid() == 0:
        # PostgreSQL will not run as root; Debian's package makes the `postgres` user.
        name = "postgres"
        try:
            owner = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError("running as root, and there is no `postgres` user to run the server as") from None
        runuser = shutil.which("runuser")
        as_user = [runuser, "-u", name, "--"] if runuser else ["su", name, "-s", "/bin/sh", "-c", '"$0" "$@"']
    for attempt in range(3):
        # In /tmp: a short path (the socket's has a length limit) that the `postgres` user
        # can reach, whatever TMPDIR is.
        folder = tempfile.mkdtemp(prefix="postgres-test-", dir="/tmp" if os.path.isdir("/tmp") else None)
        if owner:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        server = Server(bindir, folder, _free_port(), as_user)
        try:
            try:
                server.start()
            except RuntimeError:
                # Another process may have taken the port between our look and the start.
                if attempt < 2 and "could not bind" in _tail(server._server_log, 100):
                    continue
                raise
            server.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'",
                           f"CREATE DATABASE {DATABASE} OWNER {USER}")
            yield server
            return
        finally:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)

