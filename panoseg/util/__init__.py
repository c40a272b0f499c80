"""Plumbing with no panoptic knowledge: threads, atomic writes, file access (local or fsspec),
progress bars, Dask clusters. Imports nothing else of panoseg but :mod:`panoseg.errors`."""
