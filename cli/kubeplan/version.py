"""The installed kubeplan version, read from the distribution's metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kubeplan")
except PackageNotFoundError:  # pragma: no cover - running from a checkout never installed
    __version__ = "0.0.0+checkout"
