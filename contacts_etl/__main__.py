"""`python -m contacts_etl` is `contacts-etl`."""

from contacts_etl.cli import main

main()
