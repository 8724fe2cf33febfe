"""The ``lcsem`` command: ``lcsem demo`` and ``lcsem fit DATA --model MODEL``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from ._warnings import quiet
from .exceptions import LcsemError
from ._version import __version__
from .data.prepare import read_data
from .exceptions import ArgumentError
from .engine.optimize import ESTIMATORS
from .estimation.estimate import fit
from .inference.robust import ROBUST_ESTIMATORS
from .spec.ordinal import ORDINAL_ESTIMATORS
from .demo import run_demo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcsem", description="Structural equation models of learning "
                                     "culture, KMS use and organisational performance.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit the canonical model to the bundled survey, end to end")
    demo.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                      help="bootstrap replicates (default 1000; 0 to skip)")
    demo.add_argument("--seed", type=int, default=42, help="bootstrap seed (default 42)")
    demo.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="also write report.md, results.json and path diagrams into DIR")
    demo.add_argument("--format", choices=["text", "markdown"], default="text",
                      help="output format on standard output")
    fit = sub.add_parser("fit", help="fit a model in lavaan syntax to a data file")
    fit.add_argument("data", type=Path, help="CSV (.csv/.tsv) or SPSS (.sav) file")
    fit.add_argument("--model", type=Path, required=True, metavar="FILE",
                     help="text file with the model in lavaan syntax")
    fit.add_argument("--estimator", default=None,
                     choices=list(dict.fromkeys(ESTIMATORS + ROBUST_ESTIMATORS + tuple(ORDINAL_ESTIMATORS))),
                     help="default: ML, or WLSMV with --ordered (lavaan's defaults)")
    fit.add_argument("--ordered", nargs="*", default=None, metavar="COLUMN",
                     help="ordered (Likert) indicators: no names for all of them, else the names")
    fit.add_argument("--group", default=None, metavar="COLUMN", help="multi-group fit by this column")
    fit.add_argument("--missing", default="listwise", choices=["listwise", "ml", "fiml", "error"])
    fit.add_argument("--sep", default=None, metavar="CHAR",
                     help="column separator of a .csv/.txt file (default: detected; e.g. ';')")
    fit.add_argument("--json", action="store_true", help="print the full result as JSON")
    fit.add_argument("--format", choices=["text", "markdown", "html"], default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lcsem`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.version:
        print(__version__)
        return 0
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        with quiet() as caught:
            output = _demo(args) if args.command == "demo" else _fit(args)
    except LcsemError as exc:
        print(f"lcsem: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a file that cannot be read or written, reported without a traceback
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"lcsem: error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for w in caught:
        print(f"lcsem: warning ({w.category.__name__}): {w.message}", file=sys.stderr)
    print(output)
    return 0


def _fit(args: argparse.Namespace) -> str:

    if not args.model.exists():
        raise ArgumentError(f"--model: {str(args.model)!r} does not exist; give a text file with the "
                            f"model in lavaan syntax")
    if args.model.is_dir():
        raise ArgumentError(f"--model: {str(args.model)!r} is a folder; give a text file with the "
                            f"model in lavaan syntax")
    try:
        text = args.model.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ArgumentError(f"--model: {str(args.model)!r} is not UTF-8 text (byte {exc.start}: "
                            f"{exc.reason}); save the model file as UTF-8 plain text") from None
    options = {} if args.sep is None else {"sep": _separator(args.sep)}
    ordered = None if args.ordered is None else (True if not args.ordered else list(args.ordered))
    result = fit(text, read_data(args.data, **options), estimator=args.estimator, missing=args.missing,
                 ordered=ordered, group=args.group)
    if args.json:
        return json.dumps(result.to_dict(), indent=2)
    return result.summary(args.format)


def _separator(text: str) -> str:
    sep = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(text, text)
    if len(sep) != 1:
        raise ArgumentError(f"--sep: {text!r} is not one character; use e.g. --sep ';' or --sep tab")
    return sep


def _check_out(out: Path) -> None:
    """Fail before the work starts when --out cannot be written."""
    import os

    if out.exists() and not out.is_dir():
        raise ArgumentError(f"--out: {str(out)!r} is a file; give a folder (it is created if needed)")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ArgumentError(f"--out: cannot write into {str(existing)!r} (permission denied); choose "
                            f"a folder you can write to")


def _demo(args: argparse.Namespace) -> str:
    if args.out is not None:
        _check_out(args.out)

    return run_demo(n_resamples=args.bootstrap, seed=args.seed, out=args.out, fmt=args.format)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
