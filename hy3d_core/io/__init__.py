"""Reading checkpoints and meshes from disk, writing results safely."""
