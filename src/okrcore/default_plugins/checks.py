"""Built-in checks, registered through the okrcore hooks."""
