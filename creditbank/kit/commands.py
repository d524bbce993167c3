"""What the sub-commands of the command line share, cheap to import.

Building the parser must not load what the commands run: every ``creditbank worker``,
``serve`` and ``--help`` builds all of it. A context's ``register`` therefore names a
command in a heavy module by ``lazy("creditbank.x.y:function")`` (imported when that
command runs), and the flags several commands share live here rather than beside
what they drive (``--progress`` beside rich's bar).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from creditbank.config import Settings

#: What a sub-command runs: its parsed arguments and the settings, to an exit status.
Command = Callable[[argparse.Namespace, "Settings"], int]


@dataclass(frozen=True)
class LazyCommand:
    """The command ``"module:function"``, its module imported when it runs."""

    target: str

    def __post_init__(self) -> None:
        module_name, _, name = self.target.partition(":")
        if not module_name.startswith("creditbank.") or not name.isidentifier():
            raise ValueError(f"not a creditbank command target: {self.target!r}")

    def resolve(self) -> Command:
        module_name, _, name = self.target.partition(":")
        command: Command = getattr(importlib.import_module(module_name), name)
        return command

    def __call__(self, args: argparse.Namespace, settings: Settings) -> int:
        return self.resolve()(args, settings)


def lazy(target: str) -> LazyCommand:
    """What ``set_defaults(run=...)`` takes for a command in a heavy module."""
    return LazyCommand(target)


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (alias ``--quiet``) on a command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        default=None,
        help="show the progress bar (stderr) even without a terminal",
    )
    group.add_argument(
        "--no-progress",
        "--quiet",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress bar",
    )
