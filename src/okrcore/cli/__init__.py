"""The ``okr`` command line (needs the ``cli`` extra: click and rich).

Exit codes: 0 fine; 1 findings of severity error, or a failed operation; 2 unusable input (bad
plan, bad arguments), with the error on stderr and no traceback.

One module per command group: ``lint``, ``score``, ``checkins`` (checkin, history), ``targets``
(retarget), ``decompose``, ``demo``, ``exchange`` (export, import), ``init``, ``refresh``
(refresh, runs), ``plugins``, ``remind``, ``report`` and ``workers`` (worker). Each adds its
commands to :data:`main` when imported, which happens when one of them runs
(``_common.COMMAND_MODULES``); what they share (options, error handling, formatting) is in
``_common``, which imports none of them.
"""

from __future__ import annotations

try:
    import click  # noqa: F401 - checked here so that `okr` fails in one clear way
    import rich  # noqa: F401 - the text output
except ModuleNotFoundError as exc:  # the `okr` script is installed without the cli extra
    raise SystemExit(
        f"okr needs {exc.name}, part of the command-line extra: pip install 'okrcore[cli]'"
    ) from None

from okrcore.cli._common import main

__all__ = ["main"]
