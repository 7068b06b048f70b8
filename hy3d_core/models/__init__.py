"""The networks of Hunyuan3D 2.0, each built from a config dataclass."""
