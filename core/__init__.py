"""Bailong Studio's library: configuration, data, models and the training engine.

Everything here is importable without Gradio or a database, so the CLI, the job workers and the tests
drive the same code the studio does.
"""
