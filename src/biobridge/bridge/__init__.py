"""The bridge itself: the model (``model``: per-type projections and a relation-conditioned transformer),
the InfoNCE loss, embedding tables gathered from the store, the training loop (``train``, which also runs
under torchrun: ``distributed``), the trained run (``run``: the one writer and reader of a run directory)
and the import of the original BioBridge checkpoint (``import_original``). The model knows nothing of how
it is stored."""
