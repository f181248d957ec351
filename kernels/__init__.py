"""Fused Triton kernels of cgt."""
