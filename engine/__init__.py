"""Assay's pure engine: embedders, balanced_cosine fitting, snapshots, scoring, card rules.

Kept import-free on purpose: importing ``engine`` must not load a model or numpy-heavy modules.
"""
