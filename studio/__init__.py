"""The Gradio studio: thin tabs over ``core`` (ML) and ``jobs`` (the job store)."""
