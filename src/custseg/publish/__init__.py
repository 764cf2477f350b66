"""Publish: turn a fitted model into the seeds, mart and files users read, all or nothing.

- :mod:`~custseg.publish.seeds`: the seeds rendered from the model;
- :mod:`~custseg.publish.validation`: the candidate segments CSV checked before it replaces
  anything;
- :mod:`~custseg.publish.publication`: replacing the seeds and building the mart as one unit
  that restores files and tables together;
- :mod:`~custseg.publish.atomic`: files replaced whole or not at all;
- :mod:`~custseg.publish.locking`: one run at a time per project and warehouse;
- :mod:`~custseg.publish.session`: the warehouse a command opens, locked and repaired first.
"""
