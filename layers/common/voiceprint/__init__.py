"""Shared domain code for the voiceprint pipeline (shipped as a Lambda layer).

Everything here is importable and testable without AWS: AWS clients are passed in.
"""
