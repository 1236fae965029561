"""The hierarchy-vs-flat table and plot, generated from a study's results.json (the README's table is this output).

    python benchmarks/hierarchy_vs_flat_report.py benchmarks/results/hierarchy_vs_flat.json \
        --plot docs/images/hierarchy_vs_flat.png --update README.md docs/training.md

Prints the markdown tables; ``--update FILE`` replaces the text between the markers
``<!-- hierarchy-vs-flat:start ... -->`` and ``<!-- hierarchy-vs-flat:end -->`` in FILE (a file without them is
left as it is and named), and the tuning sweep's table between ``<!-- hierarchy-vs-flat-tuning:start ... -->`` and
``<!-- hierarchy-vs-flat-tuning:end -->`` where FILE has those; ``--plot`` draws success vs env steps, one panel
per K. The statistics are recomputed
from the per-game outcomes (``--replicates``), so an older results.json gets the current ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks.study` from a script run

from benchmarks.study.report import TUNING_MARKERS, markdown, plot, summarize, tuning_markdown, update_markers  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("results", type=Path, help="A study's results.json.")
    parser.add_argument("--plot", type=Path, help="Write the plot (PNG) here.")
    parser.add_argument("--update", nargs="+", type=Path, default=[], help="Markdown files whose table to replace.")
    parser.add_argument("--replicates", type=int, default=10_000, help="Bootstrap replicates.")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    if not results.get("runs"):
        print(f"error: {args.results} holds no report runs", file=sys.stderr)
        return 2
    stats = summarize(results, replicates=args.replicates)
    table, tuning = markdown(results, stats), tuning_markdown(results)
    print(table + (f"\n\n{tuning}" if tuning else ""))
    if args.plot:
        print(f"plot: {plot(results, args.plot, stats)}")
    missing = [str(path) for path in args.update if not update_markers(path, table)]
    for path in args.update if tuning else ():
        update_markers(path, tuning, TUNING_MARKERS)  # optional: only files that show the sweep have these
    if missing:
        print(f"error: no table markers in {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
