"""anntools: streaming VCF annotation against prebuilt GRCh37/GRCh38 reference bundles."""

from anntools.annotate import annotate_file
from anntools.buildcheck import detect_build
from anntools.bundle import build_bundle, ensure_bundle, export_tracks, load_bundle
from anntools.errors import AnnToolsError, BuildMismatchError, BundleError, InputError

__all__ = [
    "AnnToolsError",
    "BuildMismatchError",
    "BundleError",
    "InputError",
    "annotate_file",
    "build_bundle",
    "detect_build",
    "ensure_bundle",
    "export_tracks",
    "load_bundle",
]
