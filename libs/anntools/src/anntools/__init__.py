"""anntools: streaming VCF annotation against prebuilt GRCh37/GRCh38 reference bundles."""

import os

# anntools does no linear algebra, yet numpy's OpenBLAS starts a thread per core that spins
# after start-up, taking CPU from the annotating threads on a small machine (~0.3 s of a
# 2-second run on 2 cores). Set before numpy is first imported; a caller's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
