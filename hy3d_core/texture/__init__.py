"""The texture stage: UV unwrap, baking views into a UV texture, inpainting what no
view saw, projecting reference images onto a mesh, and the Paint model's stages.
"""
