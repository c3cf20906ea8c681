"""`python -m splice`."""

from splice.cli.entry import main

main()
