"""The console entry points: thin ``@hydra.main`` (or argparse) commands."""
