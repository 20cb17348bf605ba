"""Packaging: the repository keeps its ``analyzer/`` folder, installs as ``memscan``.

Every package under ``analyzer/`` (found, not listed, so a new subpackage ships without an
edit here; folders without ``__init__.py`` too) is installed under the ``memscan`` name;
site-packages gains no ``analyzer``.
Everything else lives in pyproject.toml.
"""
from setuptools import find_namespace_packages, setup

setup(
    package_dir={"memscan": "analyzer"},
    packages=["memscan"] + [f"memscan.{p}" for p in find_namespace_packages(
        "analyzer", exclude=["__pycache__", "*.__pycache__"])],
    package_data={"memscan": ["py.typed"]},
)
