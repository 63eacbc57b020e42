"""Commands whose modules are imported only when they run.

`sophia --help` lists every command from a table (name, where it lives, its one-line help) without
importing it: the command modules pull in the database layer, the search stack and the connectors,
which cost seconds to import. A command is loaded when it is resolved to run (or to print its own help).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click  # typer 0.29 carries its own click
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A command or sub-app: ``target`` is ``"module:attribute"``, a `typer.Typer` or a command function."""

    target: str
    help: str  # shown by `sophia --help`; tests/cli checks it against the loaded command's own

    def load(self, name: str) -> _click.Command:
        module, _, attribute = self.target.partition(":")
        obj: Any = getattr(importlib.import_module(module), attribute)
        if isinstance(obj, typer.Typer):
            return typer.main.get_group(obj)
        single = typer.Typer()
        single.command(name)(obj)
        return typer.main.get_command(single)


class Placeholder(TyperCommand):
    """Stands for a lazy command in listings; never runs (the group swaps in the real one)."""

    def __init__(self, name: str, lazy: Lazy) -> None:
        super().__init__(name=name, help=lazy.help)
        self.lazy = lazy


class LazyGroup(TyperGroup):
    """A typer group that also holds placeholders and loads the real command when one is resolved."""

    def add_lazy(self, commands: dict[str, Lazy]) -> None:
        for name, lazy in commands.items():
            self.commands[name] = Placeholder(name, lazy)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, Placeholder) and name:
            command = self.commands[name] = command.lazy.load(name)
        return name, command, rest


def build(app: typer.Typer, commands: dict[str, Lazy]) -> LazyGroup:
    """The click group of ``app`` (built with ``cls=LazyGroup``) with ``commands`` listed but not imported."""
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup), "the Typer app must be created with cls=LazyGroup"
    group.add_lazy(commands)
    return group
