"""anbu (안부): find socially isolated households before a crisis.

This package only wires the pipeline's stages to the command line; the stages themselves live in
`features` (contract → feature tables), `training` (models and registry) and `serving`.
"""
