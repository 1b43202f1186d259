"""Exceptions that callers (the CLI, the annotator worker) turn into user-facing messages."""


class AnnToolsError(Exception):
    """Base class for every error anntools raises on purpose."""


class InputError(AnnToolsError):
    """The input file is not a VCF anntools can annotate; the user has to fix the file.

    ``line`` is the 1-based line number in the (decompressed) input, when one applies.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"Line {line}: {message}" if line is not None else message)


class BuildMismatchError(InputError):
    """The input's genome build differs from the bundle's; annotating it would be wrong."""

    def __init__(
        self,
        message: str,
        *,
        detected_build: str | None,
        bundle_build: str,
        line: int | None = None,
    ) -> None:
        self.detected_build = detected_build
        self.bundle_build = bundle_build
        super().__init__(message, line=line)


class BundleError(AnnToolsError):
    """A reference bundle is missing, incomplete or cannot be built."""
