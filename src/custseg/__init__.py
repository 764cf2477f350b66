"""custseg: machine-learned, named, tested customer segments inside a dbt project."""

from custseg.version import __version__

__all__ = ["__version__"]
