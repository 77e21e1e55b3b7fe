"""Five9: one sink over two wires (REST, SOAP), pacing, retries, the state store."""

import logging

# A library's loggers stay silent unless the application (a flow, a caller) attaches a handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())
