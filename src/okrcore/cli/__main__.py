"""``python -m okrcore.cli``: the ``okr`` command without the console script."""

from okrcore.cli import main

if __name__ == "__main__":
    main(prog_name="okr")
