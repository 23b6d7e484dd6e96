import os

# Quiet TensorFlow's C++ start-up banner; Python warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
