"""The `rpsg` subcommands, one module per capability; each `register`s its own parsers and handlers.

`rpsg_ray.cli` owns only the entry point and the error handling. Handlers import what they run inside their
bodies; building the parser reads only the config's defaults, the demo paths and the method registry (the
method names and summaries that the help shows).
"""
