"""The qbarr programs: one module per supervisord program and the operator CLI."""
