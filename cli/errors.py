"""The CLI's one error boundary: every failure becomes one line on stderr, never a traceback.

`ReportingGroup` is the class of the top-level click group. Its `invoke` turns whatever a
command raises into a `click.ClickException` (the package's own errors as they are; an
`OSError` with the path it concerns; `RecursionError`, `MemoryError` and anything else
named for what it is), logging the traceback at DEBUG so `--verbose` shows it. Its `main`
prints click's own errors (a bad option value, a missing argument) on one line too, where
click would print the usage block first. `reported_errors` remains for commands that want
to fold the package's errors themselves. Both show the library's keywords
(`` `overwrite=True` ``) as the failing command's flags (`option_words.cli_wording`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from keras_ecgpe.cli.option_words import cli_wording, failing_command
from keras_ecgpe.errors import ECGPEError

if TYPE_CHECKING:
    from collections.abc import Iterator

_LOG = logging.getLogger("keras_ecgpe.cli")
# A message longer than this is cut: a library may put a whole model config into one.
MAX_MESSAGE_CHARS = 600
# What an errno means for the user, where strerror alone is cryptic.
_HINTS = {
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ELOOP: "a symbolic link loop",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EISDIR: "a folder where a file was expected",
}


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` folded onto one line (whitespace runs become one space) and cut at `limit`.

    Example:
    >>> one_line("first line\\n  ^ caret\\n")
    'first line ^ caret'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(exc: BaseException) -> str:
    """One line saying what went wrong, naming the file where the exception knows it.

    Example:
    >>> describe_failure(NotADirectoryError(20, "Not a directory", "a.txt/out"))
    'a.txt/out: Not a directory (a part of the path is a file, not a folder)'
    """
    if isinstance(exc, ECGPEError):
        return one_line(str(exc))
    if isinstance(exc, OSError):
        where = ""
        if exc.filename is not None:
            where = os.fsdecode(exc.filename)
            if exc.filename2 is not None:
                where += f" -> {os.fsdecode(exc.filename2)}"
            where += ": "
        reason = exc.strerror or str(exc) or type(exc).__name__
        hint = _HINTS.get(exc.errno or -1, "")
        hint = f" ({hint})" if hint and hint.lower() != reason.lower() else ""
        return one_line(f"{where}{reason}{hint}")
    if isinstance(exc, RecursionError):
        return (
            "the input is nested too deeply to process (a file or folder tree deeper "
            "than any real one); -v shows where"
        )
    if isinstance(exc, MemoryError):
        return "out of memory: an input asks for more than this machine has; -v shows where"
    detail = one_line(str(exc), MAX_MESSAGE_CHARS // 2)
    return f"unexpected {type(exc).__name__}: {detail or 'no message'} (-v shows where)"


class ReportingGroup(click.Group):
    """A click group whose commands never end in a traceback (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # the boundary: anything a command lets escape
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # stdout closed by the reader (`| head`): click ends quietly
            _LOG.debug("details of the error below", exc_info=exc)
            message = cli_wording(describe_failure(exc), failing_command(exc))
            raise click.ClickException(message) from exc

    def main(self, *args: Any, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **extra)
        try:
            result = super().main(*args, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} -h')" if exc.ctx is not None else ""
            _echo_error(f"{one_line(exc.format_message())}{where}")
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _echo_error(one_line(exc.format_message()))
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt, EOFError):
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                _echo_error(describe_failure(exc))
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def _echo_error(text: str) -> None:
    click.echo(f"Error: {text}", err=True)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Re-raises ECGPEError as click.ClickException so the CLI prints `Error: ...`.

    The message is folded onto one line: some come from libraries that write several (a
    YAML parser's error points at the offending line with a caret).
    """
    try:
        yield
    except ECGPEError as exc:
        command = click.get_current_context(silent=True)
        message = cli_wording(one_line(str(exc)), command and command.command)
        raise click.ClickException(message) from exc
