"""The shell: the ``gfm`` CLI and its commands, ``gfm run`` and its stage glue, provenance.

It sits on top of every stage and nothing imports it (tests and benchmarks may);
``tests/test_layers.py`` checks that.
"""
