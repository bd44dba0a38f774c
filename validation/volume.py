"""The volume guard: refuse a raw batch that shrinks the live warehouse drastically.

Every row of a batch can be valid and the batch still be wrong: a truncated export of 3 events
replacing 250,369 passes the file and row checks, and, once promoted, leaves a warehouse with no
item graph and no evaluation window. So before anything is written, the batch's events and items
are compared with the raw counts the live (promoted) warehouse was built from; a table that
shrinks by more than ``validation.max_shrink`` is refused unless the run says the shrink is meant
(``--allow-shrink``, i.e. ``validation.allow_shrink``). A first build (nothing live) is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gfm.config import ValidationConfig
from gfm.errors import GateFailedError

#: The tables whose shrinking is refused: the events (the graph and the labels) and the catalogue.
GUARDED: tuple[str, ...] = ("interactions", "items")


@dataclass(frozen=True)
class Shrink:
    """One table that shrank: its row count live and in the new batch.

    Attributes:
        table: The raw table, e.g. ``interactions``.
        source: Where the new rows came from (the raw table folder).
        live: Rows the live warehouse was built from.
        new: Rows in the new batch.

    """

    table: str
    source: str
    live: int
    new: int

    @property
    def share(self) -> float:
        """How much smaller the new table is, as a share of the live one (0.99: 99 % fewer rows)."""
        return 1.0 - self.new / self.live

    def line(self) -> str:
        """One readable line: table, source, both counts and the shrink."""
        return (
            f"{self.table} ({self.source}): {self.new:,} rows where the live warehouse has "
            f"{self.live:,} ({self.share:.1%} fewer)"
        )


class ShrinkRefused(GateFailedError):
    """A batch shrinks a guarded table by more than ``validation.max_shrink``.

    Attributes:
        shrinks: Every guarded table that shrank too much.
        max_shrink: The configured limit.

    """

    def __init__(self, shrinks: list[Shrink], max_shrink: float) -> None:
        self.shrinks = shrinks
        self.max_shrink = max_shrink
        lines = [f"- {s.line()}" for s in shrinks]
        lines.append(
            f"validation.max_shrink allows at most {max_shrink:.0%} fewer rows than the live warehouse; "
            "if this batch is meant to replace it, rerun with --allow-shrink"
        )
        super().__init__("volume", "\n".join(lines))


def check_volume(
    new: Mapping[str, int], live: Mapping[str, int] | None, vcfg: ValidationConfig, *, source: str
) -> list[Shrink]:
    """Refuse a batch whose events or items shrink too much against the live warehouse.

    Args:
        new: Rows per raw table of the new batch.
        live: Rows per raw table the live warehouse was built from; None when nothing is live.
        vcfg: ``max_shrink`` (the refused share) and ``allow_shrink`` (accept it this once).
        source: The raw folder, for the message.

    Returns:
        The guarded tables that shrank by more than ``max_shrink`` (empty unless
        ``allow_shrink`` let them through).

    Raises:
        ShrinkRefused: If a guarded table shrank by more than ``max_shrink`` and
            ``allow_shrink`` is off.

    """
    if not live:
        return []
    shrinks = [
        Shrink(table, f"{source}/{table}", live[table], new.get(table, 0))
        for table in GUARDED
        # in rows, not as a ratio: 1 - 700/1000 is a hair above 0.3 in floating point
        if live.get(table, 0) > 0 and live[table] - new.get(table, 0) > vcfg.max_shrink * live[table]
    ]
    if shrinks and not vcfg.allow_shrink:
        raise ShrinkRefused(shrinks, vcfg.max_shrink)
    return shrinks
