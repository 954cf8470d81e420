"""The kit's one version string, read from the installed distribution's metadata (set in pyproject.toml)."""

from importlib import metadata

DISTRIBUTION = "engagelab-contact-kit"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
    __version__ = "0+unknown"
