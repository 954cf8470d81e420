"""The benchmark behind ``make bench``: the mock against a bare-Flask reference and Prism, under wrk.

Entry point: ``bench/run.py`` (``python bench/run.py --help``).
"""
