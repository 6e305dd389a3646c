"""`chatbot sandbox`: the whole bot offline, driven as a user would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_sandbox(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbot", "sandbox", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"},
    )


def test_scripted_session_prices_trades_alerts_and_fills():
    result = run_sandbox("--script", "examples/sandbox.txt")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "BTCUSDT  65,861.66 USDT" in out  # /price
    assert "Balances (valued in USDT)" in out and "Total ≈" in out  # /balance with the demo key
    assert "✅ Filled: Bought 0.001 BTCUSDT" in out  # a market buy confirmed with "1"
    assert "📌 Order placed: BUY 0.001 BTCUSDT @ 59,000 is open" in out  # a limit order
    assert "(picture saved to " in out  # /chart
    assert "🔔 BTCUSDT ≥ 60100: crossed at 60,150" in out  # the alert after `price` moved
    assert "✅ Filled: BUY LIMIT BTCUSDT" in out  # the resting order filled, told live
    assert out.rstrip().endswith("sandbox stopped.")
    assert "Traceback" not in result.stderr + out
    assert "SANDBOX-TOKEN" not in result.stderr + out  # the bot token never shows


def test_interactive_session_reads_stdin_until_quit():
    result = run_sandbox(stdin="/price SOL\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Try:" in result.stdout and "SOLUSDT" in result.stdout
    assert "type the Confirm button's number" in result.stdout  # numbers run across the session
    assert "sandbox stopped." in result.stdout


def test_perpetuals_are_served_offline():
    result = run_sandbox(stdin="/price BTC.P\n/funding ETH\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "BTCUSDT.P  " in result.stdout and "Open interest" in result.stdout
    assert "ETHUSDT.P funding" in result.stdout and "Last 5 settled (UTC):" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


async def test_paper_trading_with_a_telegram_token(api, tmp_path):
    """`--telegram` with a Bot API server (here the emulator): the bot trades on the simulator."""
    import asyncio
    import signal

    from tests.e2e.conftest import ALICE

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "sandbox", "--telegram",
        env={"PATH": "/usr/bin:/bin", "TELEGRAM_BOT_TOKEN": api.token,
             "TELEGRAM_API_URL": api.url, "CHATBOT_ALLOWED_USERS": str(ALICE)},
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = ""
        while "/setkey" not in banner:
            banner += (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        setkey = next(line.strip() for line in banner.splitlines() if "/setkey" in line)
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.send(setkey)
        assert "stored" in (await alice.reply(timeout=20)).text
        await alice.send("/balance")
        assert "10,000" in (await alice.reply(timeout=20)).text  # the demo account's USDT
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
