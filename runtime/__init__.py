"""What a comparison needs around the experiment, none of it about optimizers: the run
folder it writes in, stop signals, standard output, progress lines, and the one error type.

Importing this package imports nothing heavy.
"""
