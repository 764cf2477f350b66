"""Monitoring: how the customers and their segments move between runs.

- :mod:`~custseg.monitoring.drift`: drift of a run against the model's training data or the
  previous run (population stability index per clustering feature, segment share shift, share
  of customers who kept their segment, centroid movement);
- :mod:`~custseg.monitoring.drift_report`: the report of one comparison and the thresholds
  (the ``drift_*`` settings) that turn it into alarms.
"""
