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


def test_interactive_session_reads_stdin_until_quit():
    result = run_sandbox(stdin="/price SOL\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Try:" in result.stdout and "SOLUSDT" in result.stdout
    assert "sandbox stopped." in result.stdout
