"""`python -m studio` behaves like the `studio` command."""

from studio.cli import main

raise SystemExit(main())
