"""The /pnl chart: cumulative realized profit over the period, as a PNG.

The curve steps at each sale that realized a result (after fees); its last point, now, adds
today's unrealized result on the books, so the line ends where the report's total does. It
needs no price history beyond what the report already read. Drawn with matplotlib's Agg
backend, in a worker thread, like the candle charts (see charts.py).
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

from chatbot.services.pnl import Figures

SIZE_PX = (1200, 700)
_DPI = 100
_UP, _DOWN, _BG, _FG, _GRID = "#26a69a", "#ef5350", "#131722", "#d1d4dc", "#2a2e39"


def render_curve(figures: Figures, since_ms: int | None) -> bytes:
    """PNG bytes of the curve; a flat line at zero when nothing was realized."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    now_ms = int(time.time() * 1000)
    start = since_ms if since_ms is not None else min((t for t, _ in figures.curve), default=now_ms)
    points = [(start, 0.0)] + [(t, float(v)) for t, v in figures.curve]  # pixels, not money
    total = float(figures.realized + figures.unrealized)
    points.append((now_ms, total))
    xs = [datetime.fromtimestamp(t / 1000, UTC) for t, _ in points]
    ys = [v for _, v in points]
    figure = Figure(figsize=(SIZE_PX[0] / _DPI, SIZE_PX[1] / _DPI), dpi=_DPI, facecolor=_BG)
    axes = figure.add_subplot()
    axes.set_facecolor(_BG)
    axes.tick_params(colors=_FG, labelsize=13)
    axes.grid(color=_GRID, linewidth=0.8)
    for spine in axes.spines.values():
        spine.set_color(_GRID)
    color = _UP if total >= 0 else _DOWN
    axes.step(xs, ys, where="post", color=color, linewidth=2.5)
    axes.axhline(0, color=_FG, linewidth=0.8)
    axes.set_ylabel("USDT", color=_FG, fontsize=14)
    figure.autofmt_xdate()
    figure.suptitle(f"Profit and loss: {total:+,.2f} USDT", color=_FG, fontsize=20)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=_BG)
    return buffer.getvalue()
