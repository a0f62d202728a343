"""Sub-commands of the ``cardflow`` CLI, one module each.

Every module here defines ``register(subparsers)`` which adds its parser and sets ``func`` to a
callable taking the parsed ``argparse.Namespace`` and returning an exit code. ``cardflow.cli``
discovers the modules, so adding a command never touches another command's code.
"""
