"""Point-in-time feature builders: one module per family, each a DuckDB query over a validated drop.

"As of D" means at the end of day D: a builder sees rows reported, valid, visited or measured on
or before D and nothing later. Every window ends on D and is named in the catalogue.
"""
