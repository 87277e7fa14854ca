"""``python -m okrcore.planfile --schema``: print the plan format's JSON Schema."""

from __future__ import annotations

import json
import sys

from ._format import plan_schema


def main(argv: list[str]) -> int:
    if argv == ["--schema"]:
        sys.stdout.write(json.dumps(plan_schema(), indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stderr.write("usage: python -m okrcore.planfile --schema\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
