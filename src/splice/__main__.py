"""`python -m splice`."""

from splice.cli.main import main

main()
