"""Model outputs in target units (cgt.targets)."""

import math

import pytest
import torch

from cgt.targets import TASKS, to_target_units


def test_tasks():
    assert TASKS == ("regression", "classification")


def test_regression_undoes_the_normalisation_per_target():
    out = torch.tensor([[0.0, 1.0], [-2.0, 0.5]])
    mean, std = torch.tensor([1.0, -3.0]), torch.tensor([2.0, 10.0])
    got = to_target_units(out, "regression", mean, std)
    torch.testing.assert_close(got, torch.tensor([[1.0, 7.0], [-3.0, 2.0]]))
    normalised = (got - mean) / std  # what the loss sees: the round trip is exact here
    torch.testing.assert_close(normalised, out)


def test_classification_gives_probabilities_and_ignores_statistics():
    out = torch.tensor([[0.0, 2.0], [-40.0, 40.0]])
    got = to_target_units(out, "classification")
    expected = torch.tensor([[0.5, 1 / (1 + math.exp(-2.0))], [0.0, 1.0]])
    torch.testing.assert_close(got, expected)
    with_stats = to_target_units(out, "classification", torch.ones(2), torch.full((2,), 3.0))
    torch.testing.assert_close(with_stats, got)


def test_gradients_flow_through():
    out = torch.zeros(3, 1, requires_grad=True)
    to_target_units(out, "regression", torch.zeros(1), torch.full((1,), 4.0)).sum().backward()
    torch.testing.assert_close(out.grad, torch.full((3, 1), 4.0))


def test_regression_without_statistics_is_refused():
    with pytest.raises(ValueError, match="mean and std"):
        to_target_units(torch.zeros(2, 1), "regression", mean=torch.zeros(1))


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="task must be one of .*'ranking'"):
        to_target_units(torch.zeros(2, 1), "ranking")
