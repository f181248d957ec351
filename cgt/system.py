"""Training the CGT with Lightning: loss, metrics, optimiser, schedule, checkpoint metadata,
fine-tuning (``init_from``, ``freeze_layers``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError
from torchmetrics.classification import BinaryAUROC

from cgt.checkpoint import checkpoint_metadata
from cgt.data.featurizers import get_featurizer
from cgt.finetune import frozen_modules, init_from_checkpoint
from cgt.model import CGT
from cgt.targets import TASKS, to_target_units

__all__ = ["CGTModule", "warmup_cosine", "masked_loss"]


def masked_loss(pred: Tensor, target: Tensor, task: str) -> Tensor:
    """L1 (regression) or BCE-with-logits (classification) over the known targets.

    Args:
        pred: ``[B, T]`` model outputs (normalised values or logits).
        target: ``[B, T]`` targets, NaN where missing.
        task: ``"regression"`` or ``"classification"``.

    Returns:
        The mean loss over the non-NaN entries (0, still differentiable, if there are none).
    """
    known = ~torch.isnan(target)
    if not known.any():
        return pred.sum() * 0.0
    pred, target = pred[known], target[known]
    if task == "regression":
        return F.l1_loss(pred, target)
    return F.binary_cross_entropy_with_logits(pred, target)


def warmup_cosine(warmup_epochs: int, max_epochs: int) -> Callable[[int], float]:
    """Learning-rate factor per epoch: linear warm-up then a cosine decay to 0.

    Epoch ``e < warmup`` gets ``(e + 1) / warmup``; later epochs get
    ``(1 + cos(pi * (e - warmup) / (max_epochs - warmup))) / 2``. A plain function, so
    ``LambdaLR`` keeps none of it in checkpoints: a resumed run follows the schedule of its
    own ``max_epochs`` (e.g. a longer one).
    """

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / warmup_epochs
        span = max(1, max_epochs - warmup_epochs)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (epoch - warmup_epochs) / span)))

    return factor


class CGTModule(pl.LightningModule):
    """The CGT (:class:`cgt.model.CGT`, as ``self.model``) with its training recipe.

    Regression: L1 loss on targets normalised with the buffers ``target_mean`` /
    ``target_std`` (identity unless the datamodule's ``target_stats()`` returns
    ``(mean, std)`` at setup), metrics MAE and RMSE in target units. Classification:
    BCE-with-logits, metric AUROC (mean over targets). NaN targets are left out of
    losses and metrics. Validation and test losses and metrics are torchmetrics states, so
    under DDP they are computed over the whole split (the data modules give every process
    its own molecules, :mod:`cgt.data.distributed`). AdamW, linear warm-up then cosine
    decay, stepped per epoch, over the trainable parameters.
    ``predict_step`` returns de-normalised values (probabilities for classification).

    Args:
        channels, layers, heads, steps, ring, attention_dropout, dropout, ffn_dropout,
            pooling, backend: the model, see :class:`cgt.model.CGT`.
        featurizer: molecule featurizer of the data (linked from the datamodule).
        target_names: names of the ``T`` targets (linked from the datamodule).
        task: ``"regression"`` or ``"classification"`` (linked from the datamodule).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_epochs: epochs of linear learning-rate warm-up.
        max_epochs: epoch at which the cosine reaches 0; default the trainer's
            ``max_epochs``.
        init_from: fine-tuning: a cgt checkpoint or the name of a pretrained model
            (:func:`cgt.pretrained`) whose encoders and CGT layers (and head, if trained for
            the same targets and task) the model starts from; its featurizer, vocabulary and
            architecture must be this model's (:func:`cgt.finetune.init_from_checkpoint`).
            Applied once, here: a resumed run continues from its own checkpoint, which
            Lightning loads after construction.
        freeze_layers: with ``init_from``, keeps the encoders and the first
            ``freeze_layers`` CGT layers fixed (no gradient, no optimiser, and in eval mode
            throughout, so their BatchNorm statistics and dropout do not change); 0 trains
            everything.
    """

    def __init__(
        self,
        channels: int = 64,
        layers: int = 10,
        heads: int = 8,
        steps: int = 20,
        ring: str = "paper",
        attention_dropout: float = 0.5,
        dropout: float = 0.0,
        ffn_dropout: float = 0.0,
        pooling: str = "sum",
        backend: str = "auto",
        featurizer: str = "zinc",
        target_names: list[str] | None = None,
        task: str = "regression",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        warmup_epochs: int = 50,
        max_epochs: int | None = None,
        init_from: str | None = None,
        freeze_layers: int = 0,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        target_names = list(target_names or ["y"])
        self.save_hyperparameters()
        self.target_names = target_names
        self.task = task
        self.model = CGT(
            channels=channels,
            layers=layers,
            heads=heads,
            steps=steps,
            ring=ring,
            attention_dropout=attention_dropout,
            dropout=dropout,
            ffn_dropout=ffn_dropout,
            pooling=pooling,
            num_targets=len(target_names),
            backend=backend,
            **get_featurizer(featurizer).model_inputs.as_config(),
        )
        if freeze_layers and init_from is None:
            raise ValueError(
                f"freeze_layers={freeze_layers} needs init_from: freezing randomly "
                "initialised layers would keep them random"
            )
        frozen = frozen_modules(self.model, freeze_layers)
        if init_from is not None:
            init_from_checkpoint(self.model, init_from, featurizer, target_names, task)
        for module in frozen:
            module.requires_grad_(False)
            module.eval()
        num_targets = len(target_names)
        self.register_buffer("target_mean", torch.zeros(num_targets))
        self.register_buffer("target_std", torch.ones(num_targets))
        self.train_metrics = self._stage_metrics(num_targets)
        self.val_metrics = self._stage_metrics(num_targets)
        self.test_metrics = self._stage_metrics(num_targets)
        # Evaluation losses as metrics: under DDP they are gathered over the whole split.
        self.eval_losses = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        self.run_config: dict[str, Any] | None = None

    def _stage_metrics(self, num_targets: int) -> nn.ModuleDict:
        if self.task == "regression":
            return nn.ModuleDict(
                {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False)}
            )
        return nn.ModuleDict({f"auroc_{i}": BinaryAUROC() for i in range(num_targets)})

    def train(self, mode: bool = True) -> CGTModule:
        """Sets the training mode, keeping the frozen modules (``freeze_layers``) in eval
        mode."""
        super().train(mode)
        for module in frozen_modules(self.model, self.hparams.freeze_layers):
            module.eval()
        return self

    @property
    def num_parameters(self) -> int:
        """Number of trainable parameters of the model."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def setup(self, stage: str) -> None:
        """Takes the target normalisation from the datamodule's ``target_stats()``."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        stats = getattr(datamodule, "target_stats", None)
        if self.task != "regression" or stats is None or stage != "fit":
            return
        result = stats()
        if result is not None:
            mean, std = (torch.as_tensor(s, dtype=torch.float32).flatten() for s in result)
            if mean.shape != self.target_mean.shape or std.shape != self.target_std.shape:
                raise ValueError(
                    f"target_stats() gave {mean.numel()} means and {std.numel()} stds for "
                    f"{len(self.target_names)} targets {self.target_names}"
                )
            bad = [n for n, s in zip(self.target_names, std.tolist(), strict=True) if not s > 0]
            if bad or not torch.isfinite(mean).all():
                raise ValueError(
                    f"target normalisation must be finite with std > 0; targets {bad or '?'} "
                    f"have mean {mean.tolist()} and std {std.tolist()} (a constant target?)"
                )
            self.target_mean.copy_(mean)
            self.target_std.copy_(std)

    def forward(self, batch) -> Tensor:
        """``[B, T]`` predictions in target units (probabilities for classification)."""
        return to_target_units(self.model(batch), self.task, self.target_mean, self.target_std)

    def _step(self, batch, stage: str) -> Tensor:
        out = self.model(batch)
        target = batch.y.view(out.shape).to(out.dtype)
        if self.task == "regression":
            loss = masked_loss(out, (target - self.target_mean) / self.target_std, self.task)
        else:
            loss = masked_loss(out, target, self.task)
        size = batch.num_graphs
        if stage == "train":
            self.log("train_loss", loss, batch_size=size, prog_bar=True, on_epoch=True,
                     sync_dist=True)  # fmt: skip
        else:
            self.eval_losses[stage].update(loss.detach(), size)
            self.log(f"{stage}_loss", self.eval_losses[stage], batch_size=size,
                     prog_bar=stage != "test", on_epoch=True)  # fmt: skip
        known = ~torch.isnan(target)
        metrics = getattr(self, f"{stage}_metrics")
        pred = to_target_units(out.detach(), self.task, self.target_mean, self.target_std)
        if self.task == "regression":
            for name, metric in metrics.items():
                metric.update(pred[known], target[known])
                self.log(f"{stage}_{name}", metric, batch_size=size, prog_bar=name == "mae")
        elif stage != "train":
            for i in range(out.shape[1]):
                metrics[f"auroc_{i}"].update(pred[known[:, i], i], target[known[:, i], i].long())
        return loss

    def _log_auroc(self, stage: str) -> None:
        if self.task != "classification":
            return
        metrics = getattr(self, f"{stage}_metrics")
        scores = []
        for i in range(len(self.target_names)):
            metric = metrics[f"auroc_{i}"]
            if metric.update_count > 0:
                scores.append(metric.compute())
            metric.reset()
        if scores:
            self.log(f"{stage}_auroc", torch.stack(scores).mean(), prog_bar=True)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._log_auroc("val")

    def on_test_epoch_end(self) -> None:
        self._log_auroc("test")

    def on_train_start(self) -> None:
        """On resume, sets the learning rate of this run's schedule for the current epoch
        (the optimizer state restored from the checkpoint carries the previous one)."""
        scheduler = self.lr_schedulers()
        if self.current_epoch > 0 and scheduler is not None:
            for group, base_lr, factor in zip(
                scheduler.optimizer.param_groups,
                scheduler.base_lrs,
                scheduler.lr_lambdas,
                strict=True,
            ):
                group["lr"] = base_lr * factor(self.current_epoch)

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self(batch)

    def configure_optimizers(self):
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            trainable, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        max_epochs = self.hparams.max_epochs or self.trainer.max_epochs
        if max_epochs is None or max_epochs < 0:
            raise ValueError("set model.max_epochs or trainer.max_epochs for the cosine schedule")
        schedule = warmup_cosine(self.hparams.warmup_epochs, max_epochs)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }

    def cgt_metadata(self) -> dict[str, Any]:
        """The self-contained ``checkpoint["cgt"]`` entry of this model (layout in
        :mod:`cgt.checkpoint`)."""
        return checkpoint_metadata(
            featurizer=self.hparams.featurizer,
            target_names=self.target_names,
            task=self.task,
            target_mean=self.target_mean.tolist(),
            target_std=self.target_std.tolist(),
            model_config=self.model.config,
            config=self.run_config or {},
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["cgt"] = self.cgt_metadata()
