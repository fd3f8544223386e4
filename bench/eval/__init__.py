"""Root-cause evaluation harness: labelled generated cases, baselines and metrics."""
