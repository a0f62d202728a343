"""Generated protobuf modules for proto/*.proto (regenerate, never edit)."""
