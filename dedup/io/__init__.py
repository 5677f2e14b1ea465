"""Reading inputs (walk, readers, decode), atomic writes and spill files."""
