"""Progress bars for long command-line work (rich): a count, a rate and an ETA on stderr.

On only when stderr is a terminal, so scripts, pipes and tests read the same stdout
and stderr as before; ``--progress`` forces the bar, ``--no-progress`` (or
``--quiet``) turns it off (those flags are
:func:`creditbank.kit.commands.add_progress_arguments`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second (rich's own speed column counts bytes): rich's recent speed, or
    the average so far while it has too few samples (a load advancing by chunks)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.completed and task.elapsed:
            speed = task.completed / task.elapsed
        shown = f"{speed:,.0f}/s" if speed else "-/s"
        return Text(shown, style="progress.data.speed")


def progress_bar(show: bool | None = None, **console: Any) -> Progress:
    """A bar on stderr; ``show`` None: only when stderr is a terminal."""
    err = Console(stderr=True, **console)
    disable = not err.is_terminal if show is None else not show
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=disable,
    )
