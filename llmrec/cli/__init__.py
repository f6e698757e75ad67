"""The ``llmrec`` command: one module per subcommand.

Each module defines ``NAME``, ``HELP`` and ``register(parser)``, which adds its arguments and sets
``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code). Modules
import only argparse at the top level so that ``llmrec --help`` answers instantly; the work and its
heavy imports happen inside ``func``.
"""
