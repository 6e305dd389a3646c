"""The throwaway PostgreSQL server the tests run on: it answers, each test has its own database,
and as root the server runs as an unprivileged user (initdb refuses root, and so should we)."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests import pg_server as pg_server_module
from tests.pg_server import PostgresServer, Unavailable, create_database, drop_database

seen_databases: list[str] = []


async def test_the_server_answers_sql(pg_dsn):
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        await conn.execute("CREATE TABLE prices (symbol text PRIMARY KEY, price numeric)")
        await conn.execute("INSERT INTO prices VALUES ('BTCUSDT', 64000.01)")
        row = await conn.fetchrow("SELECT symbol, price FROM prices")
        assert (row["symbol"], str(row["price"])) == ("BTCUSDT", "64000.01")
    finally:
        await conn.close()


@pytest.mark.parametrize("round_", [1, 2])
async def test_each_test_gets_a_fresh_empty_database(pg_dsn, round_):
    conn = await asyncpg.connect(pg_dsn)
    try:
        name = await conn.fetchval("SELECT current_database()")
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        await conn.execute("CREATE TABLE left_behind (id int)")
    finally:
        await conn.close()
    assert tables == 0  # nothing from the test before
    assert name not in seen_databases
    seen_databases.append(name)
    assert len(seen_databases) == len(set(seen_databases))


async def test_a_database_is_dropped_with_the_connections_a_test_left_open(pg_server):
    name = await create_database(pg_server)
    sloppy = await asyncpg.connect(pg_server.dsn(name))  # a test that forgot to close
    await drop_database(pg_server, name)
    admin = await asyncpg.connect(pg_server.admin_dsn)
    try:
        names = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
    finally:
        await admin.close()
    assert name not in names
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await sloppy.fetchval("SELECT 1")
    sloppy.terminate()


def test_the_server_does_not_run_as_root(pg_server: PostgresServer):
    owner = os.stat(f"/proc/{pg_server.pid}").st_uid
    if os.geteuid() == 0:
        assert owner == pwd.getpwnam("postgres").pw_uid != 0
    else:
        assert owner == os.geteuid()
    assert pg_server.dsn("x") == f"postgresql://chatbot@127.0.0.1:{pg_server.port}/x"


def test_without_binaries_the_reason_is_one_line_saying_how_to_get_them(monkeypatch):
    monkeypatch.setattr(pg_server_module, "find_bindir", lambda: None)
    with pytest.raises(Unavailable) as excinfo:
        pg_server_module.start_server()
    message = str(excinfo.value)
    assert "\n" not in message and "apt-get install postgresql" in message


def test_the_newest_installed_version_is_found():
    bindir = pg_server_module.find_bindir()
    if bindir is None:
        pytest.skip(pg_server_module.HOW_TO_GET)
    assert all((bindir / name).exists() for name in ("initdb", "pg_ctl"))
    installed = sorted(
        int(p.name) for p in Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()
    )
    if installed and str(bindir).startswith("/usr/lib/postgresql/"):
        assert bindir == Path(f"/usr/lib/postgresql/{installed[-1]}/bin")


def test_a_killed_sessions_server_is_stopped_and_deleted_by_the_next(pg_server):
    script = (
        "import sys, time; from tests.pg_server import start_server; s = start_server(); "
        "print(s.root, s.port, flush=True); time.sleep(600)"
    )
    root_dir = str(Path(__file__).resolve().parents[2])
    session = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=root_dir
    )
    try:
        root, port = session.stdout.readline().split()
    finally:
        session.kill()  # SIGKILL: no teardown runs
        session.wait(timeout=30)
    assert Path(root).exists() and _accepts(int(port))
    pg_server_module.stop_orphans(pg_server.bindir, pg_server.run_as)
    assert not Path(root).exists() and not _accepts(int(port))
    assert pg_server.root.exists()  # a live session's server is left alone


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_makefile_check_prints_the_binaries_folder(pg_server):
    result = subprocess.run(
        [sys.executable, "-m", "tests.pg_server"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert (result.returncode, result.stdout.strip()) == (0, str(pg_server.bindir))
