"""Training: the outer loop (``loop``) and the distributed steps (``gan``, ``classifier``)."""
