"""Command line: ``anntools annotate`` and ``anntools bundle build|ensure|export|verify|info``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from anntools.annotate import annotate_file
from anntools.bundle import build_bundle, ensure_bundle, export_tracks, load_bundle, verify_bundle
from anntools.errors import AnnToolsError, BundleError, InputError
from anntools.genome import BUILDS

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anntools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    annotate = commands.add_parser("annotate", help="annotate a VCF (plain or bgzipped)")
    annotate.add_argument("input", type=Path)
    annotate.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output VCF; bgzipped when the name ends in .gz",
    )
    source = annotate.add_mutually_exclusive_group()
    source.add_argument(
        "--build",
        choices=BUILDS,
        help="reference build (its bundle from the cache; see 'anntools bundle ensure')",
    )
    source.add_argument("--bundle", type=Path, help="an existing bundle directory")
    annotate.add_argument(
        "--cache-dir", type=Path, help="bundle cache (default $ANNTOOLS_CACHE or ~/.cache/anntools)"
    )
    annotate.add_argument(
        "--force-build",
        action="store_true",
        help="annotate with --build/--bundle even when the header or the records say another "
        "build (or NCBI36); the log and summary still report the evidence",
    )
    annotate.add_argument(
        "--no-consequences",
        action="store_true",
        help="leave out CSQ (Sequence Ontology consequences per allele and transcript) and "
        "MOST_SEVERE_CSQ",
    )
    annotate.add_argument("--log", type=Path, help="write the run log here")
    annotate.add_argument("--summary-json", type=Path, help="write the summary as JSON here")
    annotate.add_argument("--quiet", action="store_true", help="do not echo the log to stderr")

    bundle = commands.add_parser("bundle", help="build and inspect reference bundles")
    bundle_commands = bundle.add_subparsers(dest="bundle_command", required=True)
    build = bundle_commands.add_parser("build", help="build a bundle from the data packages")
    build.add_argument("--build", choices=BUILDS, required=True)
    build.add_argument("--out", type=Path, required=True)
    build.add_argument(
        "--config", type=Path, help="track configuration (TOML) to use instead of the built-in one"
    )
    ensure = bundle_commands.add_parser(
        "ensure", help="print the cached bundle of each build, building the missing ones"
    )
    ensure.add_argument("--build", choices=BUILDS, action="append", required=True)
    ensure.add_argument(
        "--cache-dir", type=Path, help="bundle cache (default $ANNTOOLS_CACHE or ~/.cache/anntools)"
    )
    ensure.add_argument(
        "--builder",
        type=shlex.split,
        help="command running anntools where the data packages are installed (e.g. 'uv run "
        "--frozen --project tools/bundle-builder anntools'); default: build in this process",
    )
    export = bundle_commands.add_parser("export", help="write the tracks as BED/VCF")
    export.add_argument("--bundle", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument(
        "--chrom-style",
        choices=("plain", "chr"),
        default="plain",
        help="chromosome names as 1/MT (plain) or chr1/chrM",
    )
    verify = bundle_commands.add_parser("verify", help="check file checksums")
    verify.add_argument("--bundle", type=Path, required=True)
    info = bundle_commands.add_parser("info", help="print the manifest summary")
    info.add_argument("--bundle", type=Path, required=True)
    return parser


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.command == "annotate":
        summary = annotate_file(
            args.input,
            args.output,
            build=args.build,
            bundle_dir=args.bundle,
            log_path=args.log,
            cache_dir=args.cache_dir,
            echo=None if args.quiet else _echo,
            force_build=args.force_build,
            consequences=not args.no_consequences,
        )
        if args.summary_json:
            args.summary_json.write_text(json.dumps(summary, indent=2) + "\n")
        return 0
    if args.bundle_command == "build":
        path = build_bundle(args.build, args.out, config_path=args.config, log=_echo)
        _echo(f"bundle written to {path}")
    elif args.bundle_command == "ensure":
        for build in args.build:
            print(ensure_bundle(build, args.cache_dir, log=_echo, builder=args.builder), flush=True)
    elif args.bundle_command == "export":
        for path in export_tracks(args.bundle, args.out, style=args.chrom_style):
            _echo(f"wrote {path}")
    elif args.bundle_command == "verify":
        damaged = verify_bundle(args.bundle)
        if damaged:
            raise BundleError(f"checksum mismatch in {', '.join(damaged)}; rebuild the bundle")
        _echo("all files match the manifest")
    else:
        manifest = load_bundle(args.bundle).manifest
        summary = {
            key: manifest[key]
            for key in ("build", "created_at", "anntools_version", "sources", "notes")
        }
        summary["tracks"] = [
            {key: t[key] for key in ("name", "kind", "description")} for t in manifest["tracks"]
        ]
        print(json.dumps(summary, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except InputError as error:
        _echo(f"anntools: input error: {error}")
        return EXIT_INPUT_ERROR
    except (AnnToolsError, OSError) as error:
        _echo(f"anntools: error: {error}")
        return EXIT_INTERNAL_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
