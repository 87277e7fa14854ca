"""Built-in notification glue (report after refresh), registered through the okrcore hooks."""
