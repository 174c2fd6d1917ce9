"""``python -m mmagent.cli`` runs the command line, as the ``mmagent`` script does."""

from mmagent.cli._main import main

main()
