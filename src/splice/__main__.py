"""`python -m splice`."""

from splice._internal.cli.entry import main

main()
