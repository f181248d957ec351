"""Experiment configurations shipped with cgt (YAML files, found by bare name)."""
