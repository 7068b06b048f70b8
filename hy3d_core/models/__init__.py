"""The networks of Hunyuan3D 2.0 and 2.1, each built from a config dataclass."""
