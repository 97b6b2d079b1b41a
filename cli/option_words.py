"""Library messages name settings by their Python keyword; the CLI shows its flags instead.

The package never names a CLI flag (a Python caller has none): it writes the keyword in
backquotes, `` `overwrite=True` ``, `` `k=5` ``, `` `prevalence` ``. `cli_wording` swaps
each such keyword for the flag of the command that failed (`--overwrite`, `--cv 5`,
`--prevalence`), using the command's own click options, so a new option needs no table
entry. `ALIASES` lists the keywords whose click parameter is named differently.
"""

from __future__ import annotations

import re

import click

_KEYWORD = re.compile(r"`([a-z_][a-z0-9_]*)(?:=([^`]*))?`")
# Library keyword -> click parameter name, where they differ.
ALIASES = {
    "declare_new_model": "declaration",
    "n_boot": "bootstrap",
    "k": "folds",
    "out_dir": "out",
    "split_fraction": "split_fractions",
}


def cli_wording(message: str, command: click.Command | None) -> str:
    """`message` with each backquoted keyword of `command`'s options replaced by its flag.

    Example:
    >>> @click.command()
    ... @click.option("--overwrite", is_flag=True)
    ... @click.option("--cv", "folds", type=int)
    ... def train(overwrite, folds): ...
    >>> cli_wording("replace it (`overwrite=True`) or use `k=5`; `data.cache` stays", train)
    'replace it (--overwrite) or use --cv 5; `data.cache` stays'
    """
    if command is None:
        return message
    options = {param.name: param for param in command.params if isinstance(param, click.Option)}

    def flag(match: re.Match) -> str:
        name, value = match.group(1), match.group(2)
        option = options.get(name) or options.get(ALIASES.get(name, ""))
        if option is None:
            return match.group(0)
        long_form = max(option.opts, key=len)
        if option.is_flag:
            if value in (None, "True"):
                return long_form
            if value == "False" and option.secondary_opts:
                return max(option.secondary_opts, key=len)
            return match.group(0)
        return long_form if value is None else f"{long_form} {value}"

    return _KEYWORD.sub(flag, message)


def failing_command(exc: BaseException) -> click.Command | None:
    """The innermost click command on `exc`'s traceback (the sub-command that failed)."""
    command, trace = None, exc.__traceback__
    while trace is not None:
        ctx = trace.tb_frame.f_locals.get("ctx")
        if isinstance(ctx, click.Context):
            command = ctx.command
        trace = trace.tb_next
    return command
