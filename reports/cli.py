"""`gptoss-eval-report DIR [DIR ...] [--out DIR] [--html | --format md,html]`: rebuild reports from stores on disk.

Without options it writes report.md and summary.csv (and prints the Markdown), as it always did. ``--html``
(or ``--format html`` / ``--format md,html``) also writes a self-contained report.html with plots (PNG files
beside it), cost per run and a transcript viewer.
"""

from __future__ import annotations

import argparse
import sys

from reports.summary import write_reports


def _formats(args: argparse.Namespace) -> set[str]:
    formats = {f.strip() for f in (args.format or "md").split(",") if f.strip()}
    if args.html:
        formats.add("html")
    unknown = formats - {"md", "html"}
    if unknown:
        raise ValueError(f"unknown --format {', '.join(sorted(unknown))}; choose md, html or md,html")
    return formats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gptoss-eval-report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", help="run directories or folders holding them (searched recursively)")
    parser.add_argument("--out", default=None, help="where the reports go (default: the first DIR)")
    parser.add_argument("--html", action="store_true", help="also write report.html (same as --format md,html)")
    parser.add_argument("--format", default=None, help="comma list of md (report.md + summary.csv) and html "
                                                       "(report.html + plot PNGs); default md")
    parser.add_argument("--transcripts", type=int, default=None, metavar="N",
                        help="attempts per run embedded in the HTML transcript viewer (default 100)")
    parser.add_argument("--max-chars", type=int, default=None, metavar="M",
                        help="cut each text in the viewer after M characters (default 12000)")
    parser.add_argument("--gpu-price", default=None, metavar="PRICE",
                        help="USD per GPU-hour for the cost table: 2.5 (any GPU) or H100=2.49,A100=1.6 "
                             "(defaults: typical on-demand cloud prices, see reports/cost.py)")
    parser.add_argument("--gpu", default=None, help="GPU type to price runs that did not record one (default H100)")
    args = parser.parse_args(argv)
    out = args.out or args.dirs[0]
    try:
        formats = _formats(args)
        if formats == {"md"}:
            paths = write_reports(args.dirs, out)
        else:
            from reports.cost import parse_prices
            from reports.html import DEFAULT_MAX_CHARS, DEFAULT_TRANSCRIPTS, write_full_report

            paths = write_full_report(
                args.dirs, out, formats=formats, prices=parse_prices(args.gpu_price), gpu=args.gpu,
                transcripts_per_run=DEFAULT_TRANSCRIPTS if args.transcripts is None else args.transcripts,
                max_chars=DEFAULT_MAX_CHARS if args.max_chars is None else args.max_chars)
    except (FileNotFoundError, ValueError) as exc:
        print(f"gptoss-eval-report: error: {exc}", file=sys.stderr)
        return 2
    if "markdown" in paths:
        print(paths["markdown"].read_text())
    if "html" in paths:
        print(f"HTML report: {paths['html']}")
    for line in paths["effort_check"]:
        if line.startswith("WARNING"):
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
