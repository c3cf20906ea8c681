"""splice's benchmarks: `python -m benchmarks` measures, prints and rewrites BENCHMARKS.md.

Speed is measured here, side by side with peers, never asserted inside a test.
"""
