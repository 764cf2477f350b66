"""custseg under an orchestrator: the run's steps as the assets of a scheduler.

:mod:`custseg.orchestration.dagster_defs` builds Dagster definitions (the optional extra
``pip install 'custseg[dagster]'``). This package itself imports nothing of Dagster, so
``import custseg.orchestration`` works without it.
"""
