"""A Lightning callback that kills its own process with SIGKILL (``kill -9``: no clean-up,
no checkpoint) after batch ``$CGT_KILL_BATCH`` of epoch ``$CGT_KILL_EPOCH``."""

import os
import signal

from lightning.pytorch.callbacks import Callback


class KillMidEpoch(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == int(os.environ["CGT_KILL_EPOCH"]) and batch_idx == int(
            os.environ["CGT_KILL_BATCH"]
        ):
            os.kill(os.getpid(), signal.SIGKILL)
