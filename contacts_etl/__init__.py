"""The command line and the run-wide pieces: settings, errors, reports."""
