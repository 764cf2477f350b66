"""custseg: machine-learned, named, tested customer segments inside a dbt project."""

__version__ = "0.1.0"
