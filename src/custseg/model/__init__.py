"""The model: cluster customers with K-means and name the clusters from the catalogue.

- :mod:`~custseg.model.features`: the feature matrix and the clustering space;
- :mod:`~custseg.model.kernels`, :mod:`~custseg.model.initialisation`: K-means' numerical kernels
  and where it starts;
- :mod:`~custseg.model.naming`, :mod:`~custseg.model.name_checks`: names by score, checked on the
  segment profiles;
- :mod:`~custseg.model.segmenter`: the scikit-learn estimator tying them together;
- :mod:`~custseg.model.matching`: stable ids across retrains;
- :mod:`~custseg.model.metrics`, :mod:`~custseg.model.evaluation`: quality figures and the
  evidence for k;
- :mod:`~custseg.model.segmenter_dict`, :mod:`~custseg.model.model_file`: the JSON model file;
- :mod:`~custseg.model.drift_reference`: the training data's bins and shares the model file keeps
  for drift;
- :mod:`~custseg.model.fitting`: the model stage of a run.
"""
