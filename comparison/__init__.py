"""The machinery `train.py` runs: devices, run folders, training one model with one
optimizer, and the TensorBoard logging callbacks.

Importing this package imports nothing heavy; TensorFlow loads only when its modules do.
"""
