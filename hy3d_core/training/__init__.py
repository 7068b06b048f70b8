"""Training and fine-tuning of the ShapeVAE and the DiT, and the data they learn from.

Import from the submodules (``vae_training.train_vae``, ``dit_training.train_dit``,
``mesh_dataset.ShapeSampleDataset``...): this package imports nothing itself, so that
importing the library stays fast for people who only run inference.
"""
