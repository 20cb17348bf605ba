"""Packaging: the repository keeps its ``analyzer/`` folder, installs as ``memscan``.

Every package under ``analyzer/`` (found, not listed, so a new subpackage ships without an
edit here) is installed under the ``memscan`` name; site-packages gains no ``analyzer``.
Everything else lives in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    package_dir={"memscan": "analyzer"},
    packages=["memscan"] + [f"memscan.{p}" for p in find_packages("analyzer")],
    package_data={"memscan": ["py.typed"]},
)
