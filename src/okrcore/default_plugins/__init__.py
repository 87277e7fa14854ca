"""Built-in behaviour of okrcore, registered through the same hooks as third-party plugins."""
