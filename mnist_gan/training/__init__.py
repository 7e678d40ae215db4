"""Training: the commands' runs (``gan``, ``classifier``, both through ``run`` and its folder,
``run_folder``), the outer loop (``loop``: checkpoints, summaries, scores at intervals) and
the distributed steps (``gan_trainer``, ``classifier_trainer``) with their parts: the GAN's
inputs (``gan_inputs``), its weight average (``ema``), the optimisers (``optimizers``) and
the signals that stop a run (``signals``)."""
