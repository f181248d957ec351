"""Molecules in, packed graph batches out."""
