"""The networks of Hunyuan3D 2.0 and 2.1, each built from a config dataclass.

Precision: every network runs in the dtype of its weights (float32, float16 or
bfloat16). What the releases keep in float32 stays there whatever that dtype is: the
timestep and Fourier features, rotary angles and the 2.0 DiT's head RMS norm compute in
float32 explicitly. ``nn.LayerNorm``, ``nn.GroupNorm`` and ``nn.RMSNorm`` are left to
torch: its kernels take the mean and variance of bfloat16 and float16 inputs in float32
and round only the normalised output (tests/models/test_norm_precision.py pins this for
the CPU), so no upcast is written here. docs/precision.md has the measured effect of
bfloat16 on results.
"""
