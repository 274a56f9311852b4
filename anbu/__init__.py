"""anbu (안부): find socially isolated households before a crisis.

This package is the application's level: its settings and its data folder's layout
(`anbu/settings.py`, `anbu/data_folder.py`, which every stage may read and which import no stage),
and the command line that wires the stages together. The stages themselves live in `features`
(contract → feature tables), `training` (models and registry) and `serving`.
"""
