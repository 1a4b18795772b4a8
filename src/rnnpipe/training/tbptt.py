"""Truncated backpropagation through time (TBPTT), for any task module whose RNN reads long
sequences.

Full BPTT differentiates the loss of a whole sequence through all its T steps. Truncated BPTT
cuts the time axis into chunks of k steps and goes through them in order:

    loss_c, h = chunk_step(chunk_c, h)     forward over the chunk's steps, starting from h
    update(loss_c)                         backward through this chunk only, one optimizer step
    h = h.detach()                         the state goes on to the next chunk, its gradient stops

The forward pass still reads the whole sequence (the hidden state crosses every chunk boundary),
but no gradient reaches back past the start of its chunk, and the parameters are updated once
per chunk. With k >= T there is a single chunk: exactly full BPTT.

Lightning 2 removed ``truncated_bptt_steps``; as in Lightning's TBPTT guide, this runs under
manual optimisation (:class:`TruncatedBPTT`). The pieces are plain functions so they can be
tested, and reused, on their own: :func:`time_chunks`, :func:`chunk_of`, :func:`truncated_bptt`
and :func:`rnn_over_chunk`.

The state is carried within one batch; every batch starts afresh (``hidden=None``). It suits a
unidirectional RNN: a bidirectional layer's reverse direction would only see its own chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor

from rnnpipe.rnn import RecurrentLayer

RnnState = Tensor | tuple[Tensor, ...]  # h_n, or an LSTM's (h_n, c_n)
ChunkStep = Callable[[dict[str, Any], RnnState | None], tuple[Tensor | None, RnnState]]


def each(state: RnnState, function: Callable[..., Tensor], *others: RnnState) -> RnnState:
    """``function`` applied to h (and the matching tensor of each of ``others``), or to each of
    an LSTM's (h, c)."""
    if isinstance(state, tuple):
        return tuple(function(*parts) for parts in zip(state, *others, strict=True))
    return function(state, *others)


def time_chunks(num_steps: int, k: int | None) -> list[slice]:
    """Consecutive slices of ``k`` steps covering ``[0, num_steps)``, the last one shorter if
    ``k`` does not divide ``num_steps``; ``k=None`` (full BPTT) gives one slice."""
    if num_steps < 1:
        raise ValueError(f"a sequence needs at least one step, got {num_steps}")
    if k is None:
        return [slice(0, num_steps)]
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"tbptt_steps must be a positive integer or null, got {k!r}")
    return [slice(start, min(start + k, num_steps)) for start in range(0, num_steps, k)]


def chunk_of(batch: Mapping[str, Any], steps: slice, time_keys: Sequence[str]) -> dict[str, Any]:
    """The part of ``batch`` inside ``steps``.

    Entries named in ``time_keys`` (those present) are ``(B, T, ...)`` tensors and are cut along
    dim 1. A ``lengths (B,)`` entry becomes each row's number of valid steps inside the chunk:
    0 for a row that ended before it. Everything else is passed on unchanged.
    """
    chunk = dict(batch)
    for key in time_keys:
        if key in batch:
            chunk[key] = batch[key][:, steps]
    if "lengths" in batch:
        chunk["lengths"] = (batch["lengths"] - steps.start).clamp(0, steps.stop - steps.start)
    return chunk


def num_time_steps(batch: Mapping[str, Any], time_keys: Sequence[str]) -> int:
    """``T``, the length of the batch's time axis, which all its ``time_keys`` share."""
    lengths = {key: batch[key].shape[1] for key in time_keys if key in batch}
    if not lengths:
        raise ValueError(f"the batch has none of the time-axis entries {list(time_keys)}")
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the batch's time-axis entries differ in length: {lengths}")
    return next(iter(lengths.values()))


def truncated_bptt(
    chunk_step: ChunkStep,
    batch: Mapping[str, Any],
    k: int | None,
    time_keys: Sequence[str],
    update: Callable[[Tensor], None],
) -> list[tuple[Tensor, int]]:
    """Run ``batch`` through ``chunk_step`` chunk by chunk, ``update`` after each chunk.

    ``chunk_step(chunk, hidden) -> (loss, hidden)`` receives ``hidden=None`` for the first chunk
    (the module builds its own initial state) and afterwards the previous chunk's final state,
    detached. A chunk with no loss of its own (``loss=None``, e.g. a classifier that scores only
    the last step) only carries the state on. Returns each updated chunk's detached loss with
    its number of steps.
    """
    losses = []
    hidden = None
    for steps in time_chunks(num_time_steps(batch, time_keys), k):
        loss, hidden = chunk_step(chunk_of(batch, steps, time_keys), hidden)
        if loss is not None:
            update(loss)
            losses.append((loss.detach(), steps.stop - steps.start))
        hidden = each(hidden, Tensor.detach)
    return losses


def rnn_over_chunk(
    rnn: RecurrentLayer, x: Tensor, hidden: RnnState | None, lengths: Tensor | None
) -> tuple[Tensor, RnnState]:
    """``rnn(x, hidden, lengths)`` for a chunk in which some rows may have no steps left.

    A padded batch cut into chunks has rows that ended before a chunk starts (length 0 there),
    while the RNN takes lengths in ``[1, T]``. Those rows skip the chunk: their output is zeros
    and their state stays as it was, just as padding behaves inside the RNN. Shapes as
    :class:`RecurrentLayer`: ``x (B, T, I)``, ``hidden (L*D, B, H)`` (an LSTM's ``(h, c)``),
    ``lengths (B,)``.
    """
    batch, steps = x.shape[:2]
    if lengths is None or bool((lengths == steps).all()):
        return rnn(x, hidden)
    if hidden is None:
        hidden = rnn.zero_state(batch, x)
    running = (lengths > 0).nonzero().squeeze(1).to(x.device)
    if len(running) == batch:
        return rnn(x, hidden, lengths)
    output = x.new_zeros(batch, steps, rnn.num_directions * rnn.hidden_size)
    if len(running) == 0:
        return output, hidden
    running_output, running_hidden = rnn(
        x[running], each(hidden, lambda h: h[:, running]), lengths[running.to(lengths.device)]
    )
    return output.index_copy(0, running, running_output), each(
        hidden, lambda h, new: h.index_copy(1, running, new), running_hidden
    )


class TruncatedBPTT(L.LightningModule):
    """Mixin giving a LightningModule a ``training_step`` that trains by truncated BPTT.

    Use it first among the bases: ``class Tagger(TruncatedBPTT, TaskModule)``. The module:

    * has the hyperparameters (``self.hparams``, from its model config) ``tbptt_steps``, the
      chunk length k (``None``: full BPTT, the whole batch is one chunk), and
      ``gradient_clip_val``, the largest gradient norm of an update (``None``: no clipping);
    * sets ``self.automatic_optimization = False`` in ``__init__``. Lightning then refuses a
      ``Trainer(gradient_clip_val=...)``, so the experiment config sets
      ``trainer.gradient_clip_val: null`` and clipping happens here, with the module's own value;
    * lists in ``time_keys`` the batch entries that have a time axis (dim 1) to cut into chunks;
      a ``lengths`` entry is cut too (see :func:`chunk_of`);
    * implements ``chunk_step(chunk, hidden) -> (loss, hidden)``: the loss of one chunk (mean
      over its tokens, or ``None``) and the RNN's state after it. ``hidden`` is ``None`` on a
      batch's first chunk. :func:`rnn_over_chunk` runs a recurrent layer on a chunk of a
      padded batch.

    ``train/loss`` is the chunks' losses averaged by their number of steps. Learning-rate
    schedulers are not stepped by Lightning under manual optimisation: a warmup is stepped
    here after every update, the scheduler once an epoch, after validation
    (``ReduceLROnPlateau`` with ``val/loss``).
    """

    time_keys: ClassVar[tuple[str, ...]] = ()

    def chunk_step(
        self, chunk: dict[str, Any], hidden: RnnState | None
    ) -> tuple[Tensor | None, RnnState]:
        raise NotImplementedError

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        optimizer = self.optimizers()
        clip = self.hparams.gradient_clip_val

        def update(loss: Tensor) -> None:
            optimizer.zero_grad()
            self.manual_backward(loss)
            if clip is not None:
                self.clip_gradients(
                    optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm"
                )
            optimizer.step()
            self.step_schedulers("step")

        losses = truncated_bptt(
            self.chunk_step, batch, self.hparams.tbptt_steps, self.time_keys, update
        )
        steps = sum(n for _, n in losses)
        loss = torch.stack([chunk_loss * n for chunk_loss, n in losses]).sum() / steps
        batch_size = next(batch[key] for key in self.time_keys if key in batch).shape[0]
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def on_train_epoch_end(self) -> None:
        self.step_schedulers("epoch")

    def step_schedulers(self, interval: str) -> None:
        """Step the schedulers configured for ``interval`` (``step``: a warmup, after each
        update; ``epoch``: the scheduler, ``ReduceLROnPlateau`` with ``val/loss``)."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != interval:
                continue
            if isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                config.scheduler.step(self.trainer.callback_metrics["val/loss"])
            else:
                config.scheduler.step()
