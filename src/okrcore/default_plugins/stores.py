"""Built-in stores, registered through the okrcore hooks."""
