"""A throwaway PostgreSQL server for tests, from the machine's own PostgreSQL binaries.

`initdb` into a temporary folder, `pg_ctl start` on a free port of 127.0.0.1 (its unix socket in
that folder too, so it never meets a system server), trust authentication for one superuser;
stopped and deleted at the end. initdb refuses to run as root, and CI runs as root: there the
server is initialised and run as the `postgres` user (the one Debian's package creates) through
`runuser`, with the folder handed to that user.

`python -m tests.pg_server` prints the binaries' folder, or exits 1 when there are none: the
Makefile asks it before the tests, to install Debian's `postgresql` package where it can.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SUPERUSER = "chatbot"
PREFIX = "chatbot-pg-"
OWNER = "owner.pid"  # the test session's process id, to find the servers of killed sessions
HOW_TO_GET = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: "
    "apt-get install postgresql (Debian/Ubuntu), or put them on PATH"
)
NEEDED = ("initdb", "pg_ctl", "postgres")
# Settings for a server whose data is thrown away: durability costs time and buys nothing.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)


class Unavailable(Exception):
    """No server can be started here; the message is one line saying how to get one."""


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's newest `/usr/lib/postgresql/N/bin`, else
    `pg_config --bindir`, else wherever PATH has initdb; None when there is none."""
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parent.name)],
        reverse=True,
    )
    candidates = [Path(p) for p in debian]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in NEEDED):
            return folder
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: `admin_dsn` reaches its `postgres` database as the superuser."""

    bindir: Path
    root: Path
    port: int
    run_as: pwd.struct_passwd | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_dsn(self) -> str:
        return self.dsn("postgres")

    def dsn(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int:
        """The postmaster's process id, from the first line of its pid file."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _run(self, *args: str, timeout: float = 60) -> None:
        """Run a server binary, as the `postgres` user when we are root."""
        prefix = ["runuser", "-u", self.run_as.pw_name, "--"] if self.run_as else []
        result = subprocess.run(
            [*prefix, str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()}\n{tail}")

    def initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", log,
                  "-o", options)  # fmt: skip

    def stop(self) -> None:
        """Stop at once (the data is thrown away, so no checkpoint) and delete the folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def stop_quietly(self) -> None:
        """`stop` for a folder left behind, whose server may be gone or half made."""
        with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
            self.stop()


def start_server(attempts: int = 3) -> PostgresServer:
    """Initialise and start a server; raises Unavailable when this machine cannot run one."""
    bindir = find_bindir()
    if bindir is None:
        raise Unavailable(HOW_TO_GET)
    run_as = _unprivileged_user()
    stop_orphans(bindir, run_as)
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    (root / OWNER).write_text(str(os.getpid()))
    if run_as is not None:
        os.chown(root, run_as.pw_uid, run_as.pw_gid)
    server = PostgresServer(bindir, root, free_port(), run_as)
    try:
        server.initdb()
        _start_on_a_free_port(server, attempts)
    except BaseException:
        server.stop()
        raise
    return server


def stop_orphans(bindir: Path, run_as: pwd.struct_passwd | None) -> None:
    """Stop and delete the servers of test sessions that were killed before their teardown
    (their owner process is gone); the servers of sessions still running are left alone."""
    for root in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            owner = int((root / OWNER).read_text())
        except (OSError, ValueError):
            continue  # not ours, or a session still writing it
        if not _alive(owner):
            PostgresServer(bindir, root, 0, run_as).stop_quietly()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _start_on_a_free_port(server: PostgresServer, attempts: int) -> None:
    """Another program may take the port between our pick and the server's bind: pick again."""
    for _ in range(attempts - 1):
        try:
            server.start()
            return
        except RuntimeError:
            server.port = free_port()
    server.start()


async def create_database(server: PostgresServer) -> str:
    """A fresh, empty database (copied from template0, which takes milliseconds); its name."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server.admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    return name


async def drop_database(server: PostgresServer, name: str) -> None:
    """Drop a test's database, ending the connections it left open (DROP ... WITH (FORCE)
    would do it in one statement, but only from PostgreSQL 13 on)."""
    admin = await asyncpg.connect(server.admin_dsn)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await admin.close()


def _unprivileged_user() -> pwd.struct_passwd | None:
    """None when we are not root; the `postgres` user when we are (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable(
            "running as root, and initdb refuses root: create a `postgres` user "
            "(apt-get install postgresql does) or run the tests as another user"
        ) from None
    if shutil.which("runuser") is None:
        raise Unavailable("running as root without runuser (util-linux) to start PostgreSQL")
    return user


if __name__ == "__main__":
    found = find_bindir()
    if found is None:
        print(HOW_TO_GET, file=sys.stderr)
        sys.exit(1)
    print(found)
