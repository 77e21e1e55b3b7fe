"""The run: the pipeline, preview, the load job, reports, `retry`, and the command line."""

import logging

# A library's loggers stay silent unless the application (a flow, a caller) attaches a handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())
