"""What training any task needs: the base TaskModule, truncated BPTT, callbacks, plots."""
