"""One step of the schema (see migrations.py for how the steps are numbered and applied)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Migration:
    """One step of the schema: `sql` for every engine, or the engine's own text."""

    sql: str
    per_engine: Mapping[str, str] = field(default_factory=dict)

    def text(self, engine: str) -> str:
        """The script `engine` runs for this step."""
        return self.per_engine.get(engine, self.sql)

    def statements(self, engine: str) -> list[str]:
        """The script split into statements, for engines that run one statement at a time."""
        return [s.strip() for s in self.text(engine).split(";") if s.strip()]
