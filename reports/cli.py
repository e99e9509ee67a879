"""`gptoss-eval-report DIR [DIR ...] [--out DIR]`: rebuild the summary report from stores on disk."""

from __future__ import annotations

import argparse
import sys

from reports.summary import write_reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gptoss-eval-report", description=__doc__)
    parser.add_argument("dirs", nargs="+", help="run directories or folders holding them (searched recursively)")
    parser.add_argument("--out", default=None, help="where report.md and summary.csv go (default: the first DIR)")
    args = parser.parse_args(argv)
    try:
        paths = write_reports(args.dirs, args.out or args.dirs[0])
    except (FileNotFoundError, ValueError) as exc:
        print(f"gptoss-eval-report: error: {exc}", file=sys.stderr)
        return 2
    print(paths["markdown"].read_text())
    for line in paths["effort_check"]:
        if line.startswith("WARNING"):
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
