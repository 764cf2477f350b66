"""Segments over time: how customers move between segments, and how the segments drift.

Each module holds one concern and reads plain arrays (the warehouse history is read elsewhere):

- :mod:`~custseg.monitoring.drift`: drift of a run against the model's training data or the
  previous run (population stability index per clustering feature, segment share shift, share
  of customers who kept their segment, centroid movement);
- :mod:`~custseg.monitoring.drift_report`: the report of one comparison and the thresholds
  (the ``drift_*`` settings) that turn it into alarms;
- :mod:`~custseg.monitoring.transitions`: transition counts and probabilities between
  consecutive as-of dates, pooled over a window, and the projected segment mix;
- :mod:`~custseg.monitoring.move_model`: the fitted move model as JSON types, its probabilities
  and the drivers of a move;
- :mod:`~custseg.monitoring.move_prediction`: training the per-customer prediction of next
  period's segment and evaluating it out of time against the transition-matrix baseline.
"""
