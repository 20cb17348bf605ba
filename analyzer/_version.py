"""The one version source (pyproject.toml reads it; CHANGELOG.md records each release)."""
__version__ = "0.1.0"
