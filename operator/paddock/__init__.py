"""Paddock: core-budget admission and arm64 pool placement for agent workloads."""

__version__ = "0.1.0"
GROUP = "paddock.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
