"""Judging generated digits: pure NumPy metrics, classifier features, CAS, memorisation, the report."""
