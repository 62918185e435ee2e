"""Simulation of matching's dispatcher on real geography; see `__main__`."""
