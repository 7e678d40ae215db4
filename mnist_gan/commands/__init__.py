"""The command-line programs (``./train.py`` and the ``mnist-gan-train`` console script are the
same ``main``). Each module imports TensorFlow only inside ``main``, after the checks."""
