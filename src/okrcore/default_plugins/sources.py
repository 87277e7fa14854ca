"""Built-in sources, registered through the okrcore hooks."""
