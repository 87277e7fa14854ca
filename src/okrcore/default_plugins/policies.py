"""Built-in policies, registered through the okrcore hooks."""
