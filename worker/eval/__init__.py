"""Evaluation of dedup and extraction quality on labelled data."""
